"""Incremental assignment state and local moves shared by the heuristics."""

from __future__ import annotations

from .compact import Compact

# Capacity slack for float resource sums, relative to the capacity.
FIT_TOLERANCE = 1e-9


class State:
    """An assignment with node loads, task counts and objective kept current.

    ``choice[j]`` is task ``j``'s node index or -1 while it is unplaced.
    """

    def __init__(self, compact: Compact, choice: list[int] | None = None) -> None:
        self.compact = compact
        self.choice = [-1] * compact.n_tasks
        self.loads = [[0.0] * len(compact.resources) for _ in compact.node_ids]
        self.counts = [0] * compact.n_nodes
        self.objective = 0.0
        self.limits = [
            [amount * (1 + FIT_TOLERANCE) for amount in capacity]
            for capacity in compact.capacity
        ]
        for j, i in enumerate(choice or []):
            if i >= 0:
                self.place(j, i)

    def fits(self, j: int, i: int) -> bool:
        load, limit = self.loads[i], self.limits[i]
        return all(
            load[r] + amount <= limit[r]
            for r, amount in enumerate(self.compact.use[j][i])
        )

    def fits_after_removing(self, j: int, i: int, k: int) -> bool:
        """Return whether task ``j`` fits on node ``i`` once ``k`` leaves it."""
        use_j, use_k = self.compact.use[j][i], self.compact.use[k][i]
        load, limit = self.loads[i], self.limits[i]
        return all(load[r] - use_k[r] + use_j[r] <= limit[r] for r in range(len(load)))

    def place_cost(self, j: int, i: int) -> float:
        opening = self.compact.fixed[i] if self.counts[i] == 0 else 0.0
        return self.compact.cost[j][i] + opening

    def remove_gain(self, j: int) -> float:
        i = self.choice[j]
        closing = self.compact.fixed[i] if self.counts[i] == 1 else 0.0
        return self.compact.cost[j][i] + closing

    def move_delta(self, j: int, i: int) -> float:
        current = self.choice[j]
        if current == i:
            return 0.0
        delta = self.compact.cost[j][i] - self.compact.cost[j][current]
        if self.counts[i] == 0:
            delta += self.compact.fixed[i]
        if self.counts[current] == 1:
            delta -= self.compact.fixed[current]
        return delta

    def place(self, j: int, i: int) -> None:
        self.objective += self.place_cost(j, i)
        self.choice[j] = i
        self.counts[i] += 1
        for r, amount in enumerate(self.compact.use[j][i]):
            self.loads[i][r] += amount

    def remove(self, j: int) -> None:
        i = self.choice[j]
        self.objective -= self.remove_gain(j)
        self.choice[j] = -1
        self.counts[i] -= 1
        for r, amount in enumerate(self.compact.use[j][i]):
            self.loads[i][r] -= amount

    def move(self, j: int, i: int) -> None:
        self.remove(j)
        self.place(j, i)

    def overloaded_nodes(self) -> list[int]:
        return [
            i
            for i, load in enumerate(self.loads)
            if any(
                amount > limit
                for amount, limit in zip(load, self.limits[i], strict=True)
            )
        ]

    def is_feasible(self) -> bool:
        return -1 not in self.choice and not self.overloaded_nodes()


def shift_descent(state: State, max_rounds: int = 50) -> None:
    """Move single tasks to better nodes with room until no move improves."""
    compact = state.compact
    for _ in range(max_rounds):
        improved = False
        for j in range(compact.n_tasks):
            best_i, best_delta = -1, -1e-12
            for i in compact.cost[j]:
                if i != state.choice[j] and state.fits(j, i):
                    delta = state.move_delta(j, i)
                    if delta < best_delta:
                        best_i, best_delta = i, delta
            if best_i >= 0:
                state.move(j, best_i)
                improved = True
        if not improved:
            return


def swap_descent(state: State, max_rounds: int = 20) -> None:
    """Exchange the nodes of two tasks when that improves and both fit."""
    compact = state.compact
    cost, use = compact.cost, compact.use
    n = compact.n_tasks
    for _ in range(max_rounds):
        improved = False
        for j in range(n):
            a = state.choice[j]
            for k in range(j + 1, n):
                b = state.choice[k]
                if a == b or b not in cost[j] or a not in cost[k]:
                    continue
                delta = cost[j][b] + cost[k][a] - cost[j][a] - cost[k][b]
                if delta >= -1e-12:
                    continue
                if not _swap_fits(state, j, a, k, b, use):
                    continue
                state.remove(j)
                state.remove(k)
                state.place(j, b)
                state.place(k, a)
                a = b
                improved = True
        if not improved:
            return


def _swap_fits(state: State, j: int, a: int, k: int, b: int, use) -> bool:
    for node, gone, added in ((a, use[j][a], use[k][a]), (b, use[k][b], use[j][b])):
        load, limit = state.loads[node], state.limits[node]
        for r in range(len(load)):
            if load[r] - gone[r] + added[r] > limit[r]:
                return False
    return True


def repair(state: State, order: list[int] | None = None) -> None:
    """Place unplaced tasks and relieve overloaded nodes, cheapest move first.

    Tries, in turn: a node with room; moving one task off a full node to a
    node with room (an ejection chain of length one); otherwise the least
    overloaded node, leaving the state infeasible for the caller to see.
    """
    compact = state.compact
    for j in order or range(compact.n_tasks):
        if state.choice[j] < 0:
            insert_task(state, j)
    for i in state.overloaded_nodes():
        tasks = [j for j, node in enumerate(state.choice) if node == i]
        tasks.sort(key=lambda j: -sum(compact.use[j][i]))
        for j in tasks:
            if i not in state.overloaded_nodes():
                break
            targets = [t for t in compact.cost[j] if t != i and state.fits(j, t)]
            if targets:
                state.move(j, min(targets, key=lambda t: state.move_delta(j, t)))


def insert_task(state: State, j: int) -> None:
    compact = state.compact
    options = compact.cost[j]
    fitting = [i for i in options if state.fits(j, i)]
    if fitting:
        state.place(j, min(fitting, key=lambda i: state.place_cost(j, i)))
        return
    best = None
    for i in options:
        for k, node in enumerate(state.choice):
            if node != i or not state.fits_after_removing(j, i, k):
                continue
            for target in compact.cost[k]:
                if target != i and state.fits(k, target):
                    delta = compact.cost[k][target] - compact.cost[k][i]
                    delta += compact.cost[j][i]
                    if best is None or delta < best[0]:
                        best = (delta, i, k, target)
    if best is not None:
        _, i, k, target = best
        state.move(k, target)
        state.place(j, i)
        return
    state.place(j, min(options, key=lambda i: _overflow(state, j, i)))


def _overflow(state: State, j: int, i: int) -> float:
    use = state.compact.use[j][i]
    return sum(
        max(0.0, load + amount - cap) / max(cap, 1e-12)
        for load, amount, cap in zip(
            state.loads[i], use, state.compact.capacity[i], strict=True
        )
    )


def repair_overload(state: State, max_steps: int = 1000) -> None:
    """Reduce capacity excess by shifts, then swaps, until none is left.

    Each step takes the single-task shift that removes the most excess, cost
    breaking ties; only when no shift helps does it look for a swap with a
    task on another node. Stops when the state is feasible, no move reduces
    the excess, or after ``max_steps`` moves.
    """
    for _ in range(max_steps):
        overloaded = state.overloaded_nodes()
        if not overloaded:
            return
        move = _best_overload_shift(state, overloaded)
        if move is not None:
            state.move(*move)
            continue
        swap = _best_overload_swap(state, overloaded)
        if swap is None:
            return
        j, k = swap
        a, b = state.choice[j], state.choice[k]
        state.remove(j)
        state.remove(k)
        state.place(j, b)
        state.place(k, a)


def _best_overload_shift(state: State, overloaded: list[int]):
    compact = state.compact
    best = None
    for a in overloaded:
        excess_a = _excess(state, a)
        for j, node in enumerate(state.choice):
            if node != a:
                continue
            gain = excess_a - _excess(state, a, compact.use[j][a])
            if gain <= 0:
                continue
            for b in compact.cost[j]:
                if b != a and state.fits(j, b):
                    key = (-gain, state.move_delta(j, b))
                    if best is None or key < best[0]:
                        best = (key, (j, b))
    return None if best is None else best[1]


def _best_overload_swap(state: State, overloaded: list[int]):
    compact = state.compact
    by_node = [[] for _ in compact.node_ids]
    for k, node in enumerate(state.choice):
        by_node[node].append(k)
    best = None
    for a in overloaded:
        excess_a = _excess(state, a)
        for j in by_node[a]:
            use_j = compact.use[j][a]
            for b in compact.cost[j]:
                if b == a:
                    continue
                for k in by_node[b]:
                    if a not in compact.cost[k]:
                        continue
                    if not _swap_fits_target(state, j, a, k, b):
                        continue
                    removed = [
                        u - v for u, v in zip(use_j, compact.use[k][a], strict=True)
                    ]
                    gain = excess_a - _excess(state, a, removed)
                    if gain <= 1e-12:
                        continue
                    delta = (
                        compact.cost[j][b] + compact.cost[k][a]
                        - compact.cost[j][a] - compact.cost[k][b]
                    )  # fmt: skip
                    if best is None or (-gain, delta) < best[0]:
                        best = ((-gain, delta), (j, k))
            # The first overloaded task with any helpful swap is enough:
            # searching every pair made repair the bulk of the run time.
            if best is not None:
                return best[1]
    return None


def _excess(state: State, i: int, removed=None) -> float:
    total = 0.0
    for r, load in enumerate(state.loads[i]):
        if removed is not None:
            load -= removed[r]
        total += max(0.0, load - state.limits[i][r]) / max(state.limits[i][r], 1e-12)
    return total


def _swap_fits_target(state: State, j: int, a: int, k: int, b: int) -> bool:
    """Return whether node ``b`` has room for ``j`` once ``k`` leaves it."""
    use = state.compact.use
    load, limit = state.loads[b], state.limits[b]
    return all(
        load[r] - use[k][b][r] + use[j][b][r] <= limit[r] for r in range(len(load))
    )
