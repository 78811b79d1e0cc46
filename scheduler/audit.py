"""Tamper-evident placement log: every finished run is sealed into a hash chain.

A run's ``record_hash`` is the SHA-256 of the previous run's hash and a
canonical JSON form of the run and its placements. Editing, deleting or
reordering any sealed row breaks the chain from that run on, and
``verify_chain`` reports the first broken link. The chain detects changes;
it cannot prevent them, and someone able to rewrite every row and hash after
the edit could hide one, so the head hash should also be copied elsewhere
(for example into the hospital's log system) to anchor it.
"""

import hashlib
import json
from dataclasses import dataclass

from django.db import connection

GENESIS_HASH = "0" * 64
# Key of the PostgreSQL advisory lock that serialises sealing, so two runs
# finishing at once cannot both take the same previous hash.
CHAIN_LOCK_KEY = 7_415_001


def _number(value):
    return None if value is None else repr(float(value))


def canonical_record(run) -> str:
    """Return the run and its placements as canonical JSON text."""
    placements = [
        {
            "task": p.task_id,
            "kind": p.task_kind,
            "bed": p.bed_id,
            "patient": p.patient_pseudonym,
            "node": p.node_id,
            "tier": p.tier,
            "urgency": _number(p.urgency),
            "demand_mips": _number(p.demand_mips),
            "memory_mb": _number(p.memory_mb),
            "min_security": p.min_security,
            "latency_ms": _number(p.latency_ms),
            "cost": _number(p.cost),
            "security_exposure": _number(p.security_exposure),
        }
        for p in run.placements.order_by("task_id")
    ]
    record = {
        "run": run.pk,
        "ward": run.ward_id,
        "solver": run.solver,
        "trigger": run.trigger,
        "requested_by": run.requested_by_id,
        "status": run.status,
        "created_at": run.created_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "weights": run.weights,
        "solver_status": run.solver_status,
        "feasible": run.feasible,
        "objective": _number(run.objective),
        "latency_term": _number(run.latency_term),
        "cost_term": _number(run.cost_term),
        "security_term": _number(run.security_term),
        "bound": _number(run.bound),
        "gap_pct": _number(run.gap_pct),
        "wall_s": _number(run.wall_s),
        "task_count": run.task_count,
        "error": run.error,
        "placements": placements,
    }
    # Older runs have no fallback note or snapshot, and their records keep
    # the form they were hashed in.
    if run.fallback:
        record["fallback"] = run.fallback
    if run.snapshot is not None:
        snapshot = json.dumps(run.snapshot, sort_keys=True, separators=(",", ":"))
        record["snapshot_sha256"] = hashlib.sha256(snapshot.encode()).hexdigest()
    return json.dumps(record, sort_keys=True, separators=(",", ":"))


def record_hash(previous_hash: str, run) -> str:
    text = previous_hash + canonical_record(run)
    return hashlib.sha256(text.encode()).hexdigest()


def seal(run) -> None:
    """Append a finished run to the chain; call inside its final transaction."""
    from scheduler.models import PlanningRun

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])
    last = (
        PlanningRun.objects.filter(chain_index__isnull=False)
        .order_by("-chain_index")
        .first()
    )
    run.chain_index = 0 if last is None else last.chain_index + 1
    run.previous_hash = GENESIS_HASH if last is None else last.record_hash
    run.record_hash = record_hash(run.previous_hash, run)
    run.save(update_fields=["chain_index", "previous_hash", "record_hash"])


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken_at: int | None = None
    run_id: int | None = None
    reason: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def verify_chain() -> ChainReport:
    """Recompute every hash in chain order and report the first broken link."""
    from scheduler.models import PlanningRun

    previous = GENESIS_HASH
    checked = 0
    runs = PlanningRun.objects.filter(chain_index__isnull=False).order_by("chain_index")
    for expected_index, run in enumerate(runs.iterator()):
        if run.chain_index != expected_index:
            return ChainReport(
                checked, expected_index, run.pk,
                f"chain index {run.chain_index} where {expected_index} was "
                "expected: a sealed run was deleted",
            )  # fmt: skip
        if run.previous_hash != previous:
            return ChainReport(
                checked, expected_index, run.pk,
                "previous hash does not match the hash of the run before",
            )  # fmt: skip
        if record_hash(previous, run) != run.record_hash:
            return ChainReport(
                checked, expected_index, run.pk,
                "run or placement rows changed after sealing",
            )  # fmt: skip
        previous = run.record_hash
        checked += 1
    return ChainReport(checked)
