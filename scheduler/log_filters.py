"""Filters of the placement log, shared by the page and the exports."""

from dataclasses import dataclass

from django.utils.dateparse import parse_datetime
from django.utils.timezone import is_naive, make_aware

from scheduler import core
from scheduler.models import Placement
from scheduler.models.inventory import Tier
from scheduler.models.runs import RunStatus, Solver

TEXT_FILTERS = {
    # query parameter: Placement lookup
    "ward": "bed__ward__code",
    "patient": "patient_pseudonym",
    "node": "node__name",
}
CHOICE_FILTERS = {
    "kind": ("task_kind", [kind.value for kind in core.TaskKind]),
    "tier": ("tier", list(Tier.values)),
    "solver": ("run__solver", list(Solver.values)),
}
FILTER_NAMES = (*TEXT_FILTERS, *CHOICE_FILTERS, "run", "since", "until")


@dataclass
class PlacementFilter:
    values: dict[str, str]
    errors: list[str]
    queryset: object


def _time(name: str, raw: str, errors: list[str]):
    try:
        value = parse_datetime(raw)
    except ValueError:
        # Well-formed but impossible, such as 30 February.
        value = None
    if value is None:
        errors.append(
            f"{name}={raw!r} is invalid: expected an ISO 8601 date and time "
            "such as 2026-12-04T10:00:00Z"
        )
        return None
    return make_aware(value) if is_naive(value) else value


def filter_placements(query) -> PlacementFilter:
    """Filter placements of finished runs by the query parameters in ``query``.

    Unknown parameters are ignored; a bad value gives an error naming the
    parameter, the value and what is allowed, and no rows.
    """
    rows = Placement.objects.filter(run__status=RunStatus.DONE).select_related(
        "run", "run__ward", "node", "bed", "bed__ward"
    )
    values = {name: query.get(name, "").strip() for name in FILTER_NAMES}
    errors = []
    for name, lookup in TEXT_FILTERS.items():
        if values[name]:
            rows = rows.filter(**{lookup: values[name]})
    for name, (lookup, allowed) in CHOICE_FILTERS.items():
        if not values[name]:
            continue
        if values[name] not in allowed:
            errors.append(
                f"{name}={values[name]!r} is invalid: expected one of "
                f"{', '.join(allowed)}"
            )
        rows = rows.filter(**{lookup: values[name]})
    if values["run"]:
        if not (values["run"].isascii() and values["run"].isdigit()):
            errors.append(f"run={values['run']!r} is invalid: expected a run number")
        else:
            rows = rows.filter(run_id=int(values["run"]))
    for name, lookup in (("since", "gte"), ("until", "lte")):
        if values[name]:
            moment = _time(name, values[name], errors)
            if moment is not None:
                rows = rows.filter(**{f"run__finished_at__{lookup}": moment})
    if errors:
        rows = rows.none()
    return PlacementFilter(
        values, errors, rows.order_by("-run__finished_at", "task_id")
    )


EXPORT_COLUMNS = (
    "run", "finished_at", "ward", "solver", "trigger", "weights_profile",
    "w_latency", "w_cost", "w_security", "task_id", "task_kind", "bed",
    "patient", "urgency", "node", "tier", "latency_ms", "cost_per_hour",
    "security_exposure", "run_objective", "run_gap_pct",
)  # fmt: skip


def export_row(placement: Placement) -> dict:
    run = placement.run
    weights = run.weights or {}
    return {
        "run": run.pk,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "ward": placement.bed.ward.code if placement.bed_id else None,
        "solver": run.solver,
        "trigger": run.trigger,
        "weights_profile": weights.get("profile"),
        "w_latency": weights.get("latency"),
        "w_cost": weights.get("cost"),
        "w_security": weights.get("security"),
        "task_id": placement.task_id,
        "task_kind": placement.task_kind,
        "bed": placement.bed.code,
        "patient": placement.patient_pseudonym,
        "urgency": placement.urgency,
        "node": placement.node.name,
        "tier": placement.tier,
        "latency_ms": placement.latency_ms,
        "cost_per_hour": placement.cost,
        "security_exposure": placement.security_exposure,
        "run_objective": run.objective,
        "run_gap_pct": run.gap_pct,
    }
