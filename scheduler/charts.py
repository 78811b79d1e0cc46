"""Solver comparison and Plotly charts for auditors, computed from snapshots.

Nothing here is stored: each page solves a stored snapshot again with short
time limits and renders the figures server-side to an HTML div.
"""

import itertools
from dataclasses import dataclass

import plotly.graph_objects as go
from django.db.models import Count

from scheduler import core
from scheduler.core.policy import Policy
from scheduler.models import HybridPolicy, PlanningRun, WeightProfile
from scheduler.models.runs import RunStatus
from scheduler.snapshot import problem_from_dict

COMPARE_TIME_LIMIT_SECONDS = 3.0
PARETO_TIME_LIMIT_SECONDS = 1.0
# Weights on a simplex grid in steps of a quarter: 15 points, each solved
# exactly, besides the stored profiles.
PARETO_GRID_STEPS = 4
TIER_MIX_RUNS = 100


@dataclass(frozen=True)
class SolverRow:
    solver: str
    result: core.Result
    differs_from_exact: int | None


def _stored_policy(run: PlanningRun) -> Policy:
    row = HybridPolicy.objects.filter(ward_id=run.ward_id).first()
    try:
        return Policy.from_dict(row.data) if row and row.data else Policy()
    except ValueError:
        return Policy()


def compare_solvers(run: PlanningRun) -> list[SolverRow]:
    """Solve the run's snapshot with each solver; the hybrid one learns from a
    copy of the ward's policy, which is not stored."""
    problem = problem_from_dict(run.snapshot)
    results = {}
    for solver in core.SOLVERS:
        policy = _stored_policy(run) if solver == "hybrid" else None
        results[solver] = core.solve(
            problem, solver, time_limit_s=COMPARE_TIME_LIMIT_SECONDS, seed=run.pk,
            policy=policy,
        )  # fmt: skip
    exact = results["exact"].assignment
    rows = []
    for solver, result in results.items():
        differs = None
        if exact and result.assignment:
            differs = sum(result.assignment.get(t) != n for t, n in exact.items())
        rows.append(SolverRow(solver, result, differs))
    return rows


def _grid() -> list[tuple[str, core.Weights]]:
    points = []
    steps = PARETO_GRID_STEPS
    for a, b in itertools.product(range(steps + 1), repeat=2):
        c = steps - a - b
        if c < 0:
            continue
        weights = core.Weights(a / steps, b / steps, c / steps)
        points.append((f"grid {a}/{b}/{c}", weights))
    return points


def _dominated(point, others) -> bool:
    return any(
        all(o <= p for o, p in zip(other, point, strict=True)) and other != point
        for other in others
    )


def pareto_points(run: PlanningRun) -> list[dict]:
    """Solve the run's snapshot for each profile and grid weighting.

    Returns one dict per weighting with its normalised terms and whether it
    is on the Pareto front of the points found.
    """
    weightings = [
        (f"profile {p.name}", core.Weights(p.latency, p.cost, p.security))
        for p in WeightProfile.objects.all()
    ] + _grid()
    points = []
    for label, weights in weightings:
        problem = problem_from_dict(run.snapshot, weights=weights)
        # The placement in force would pull every weighting toward itself.
        problem = core.Problem(problem.tasks, problem.nodes, problem.links, weights)
        result = core.solve(problem, "exact", time_limit_s=PARETO_TIME_LIMIT_SECONDS)
        if not (result.has_solution and result.feasible):
            continue
        points.append(
            {
                "label": label,
                "latency": result.latency_term,
                "cost": result.cost_term,
                "security": result.security_term,
            }
        )
    terms = [(p["latency"], p["cost"], p["security"]) for p in points]
    for point, term in zip(points, terms, strict=True):
        point["front"] = not _dominated(term, terms)
    return points


def pareto_div(points: list[dict]) -> str:
    figure = go.Figure()
    for on_front in (True, False):
        chosen = [p for p in points if p["front"] == on_front]
        figure.add_trace(
            go.Scatter(
                x=[p["latency"] for p in chosen],
                y=[p["cost"] for p in chosen],
                mode="markers",
                name="Pareto front" if on_front else "dominated",
                text=[p["label"] for p in chosen],
                marker={
                    "size": 12 if on_front else 8,
                    "color": [p["security"] for p in chosen],
                    "colorscale": "Viridis",
                    "showscale": on_front,
                    "colorbar": {"title": {"text": "security term"}},
                    "symbol": "circle" if on_front else "x",
                },
                hovertemplate=(
                    "%{text}<br>latency %{x:.4f}<br>cost %{y:.4f}"
                    "<br>security %{marker.color:.4f}<extra></extra>"
                ),
            )
        )
    figure.update_layout(
        title="Latency, cost and security terms across weightings",
        xaxis_title="latency term (normalised)",
        yaxis_title="cost term (normalised)",
        height=480,
    )
    return figure.to_html(full_html=False, include_plotlyjs=False)


def tier_mix(ward=None) -> list[dict]:
    """Count placements per tier for the latest finished runs, oldest first."""
    runs = PlanningRun.objects.filter(status=RunStatus.DONE)
    if ward is not None:
        runs = runs.filter(ward=ward)
    latest = list(
        runs.order_by("-finished_at").values_list("pk", "finished_at")[:TIER_MIX_RUNS]
    )
    finished = dict(latest)
    counts = (
        PlanningRun.objects.filter(pk__in=finished)
        .values("pk", "placements__tier")
        .annotate(count=Count("placements"))
    )
    rows = {}
    for row in counts:
        if row["placements__tier"] is None:
            continue
        entry = rows.setdefault(
            row["pk"], {"run": row["pk"], "at": finished[row["pk"]]}
        )
        entry[row["placements__tier"]] = row["count"]
    return sorted(rows.values(), key=lambda entry: entry["at"])


def tier_mix_div(rows: list[dict]) -> str:
    figure = go.Figure()
    for tier in ("edge", "fog", "cloud"):
        figure.add_trace(
            go.Scatter(
                x=[row["at"] for row in rows],
                y=[row.get(tier, 0) for row in rows],
                name=tier,
                mode="lines",
                stackgroup="tiers",
                text=[f"run {row['run']}" for row in rows],
            )
        )
    figure.update_layout(
        title="Tasks per tier in each finished run",
        xaxis_title="run finished",
        yaxis_title="tasks",
        height=400,
    )
    return figure.to_html(full_html=False, include_plotlyjs=False)
