"""Auditor pages: placement log with exports, explanations, solver comparison
and charts. Every page here only reads."""

import csv

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render

from medtwin.roles import ADMIN, AUDITOR, role_required
from scheduler import charts
from scheduler.explain import explain
from scheduler.log_filters import (
    CHOICE_FILTERS,
    EXPORT_COLUMNS,
    export_row,
    filter_placements,
)
from scheduler.models import PlanningRun
from scheduler.models.runs import RunStatus
from twins.models import Ward

PLACEMENTS_PER_PAGE = 100
EXPORT_FORMATS = ("csv", "json")


def _export(rows, export_format: str) -> HttpResponse:
    records = [export_row(placement) for placement in rows.iterator()]
    if export_format == "json":
        response = JsonResponse({"placements": records})
    else:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        writer = csv.DictWriter(response, fieldnames=EXPORT_COLUMNS)
        writer.writeheader()
        writer.writerows(records)
    response["Content-Disposition"] = (
        f'attachment; filename="placements.{export_format}"'
    )
    return response


@role_required(ADMIN, AUDITOR)
def placement_log(request):
    result = filter_placements(request.GET)
    export_format = request.GET.get("format", "")
    errors = list(result.errors)
    if export_format and export_format not in EXPORT_FORMATS:
        errors.append(
            f"format={export_format!r} is invalid: expected one of "
            f"{', '.join(EXPORT_FORMATS)}"
        )
    if errors:
        if export_format in EXPORT_FORMATS:
            return JsonResponse({"errors": errors}, status=400)
        for error in errors:
            messages.error(request, error)
    elif export_format:
        return _export(result.queryset, export_format)
    page = Paginator(result.queryset, PLACEMENTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "scheduler/placement_log.html",
        {
            "page": page,
            "filters": result.values,
            "choices": {name: allowed for name, (_, allowed) in CHOICE_FILTERS.items()},
            "wards": Ward.objects.all(),
            "query": query.urlencode(),
        },
        status=400 if errors else 200,
    )


@role_required(ADMIN, AUDITOR)
def placement_detail(request, run_id, task_id):
    run = get_object_or_404(PlanningRun.objects.select_related("ward"), pk=run_id)
    placement = get_object_or_404(
        run.placements.select_related("node", "bed"), task_id=task_id
    )
    explanation = error = None
    if run.snapshot is None:
        error = "this run stored no snapshot, so its placements cannot be explained"
    else:
        assignment = dict(run.placements.values_list("task_id", "node__name"))
        try:
            explanation = explain(run.snapshot, assignment, task_id)
        except ValueError as failure:
            error = f"the run's snapshot cannot be read: {failure}"
    if request.GET.get("format") == "json":
        if explanation is None:
            return JsonResponse({"error": error}, status=409)
        data = explanation.as_dict() | {
            "run": run.pk,
            "solver": run.solver,
            "bound": run.bound,
            "gap_pct": run.gap_pct,
        }
        return JsonResponse(data)
    return render(
        request,
        "scheduler/placement_detail.html",
        {"run": run, "placement": placement, "x": explanation, "error": error},
    )


def _finished_run(run_id) -> PlanningRun:
    run = get_object_or_404(PlanningRun.objects.select_related("ward"), pk=run_id)
    if run.status != RunStatus.DONE or run.snapshot is None:
        raise Http404(f"run {run_id} has no stored snapshot to solve again")
    return run


@role_required(ADMIN, AUDITOR)
def compare(request, run_id):
    run = _finished_run(run_id)
    rows = charts.compare_solvers(run)
    return render(
        request,
        "scheduler/compare.html",
        {"run": run, "rows": rows, "time_limit": charts.COMPARE_TIME_LIMIT_SECONDS},
    )


@role_required(ADMIN, AUDITOR)
def chart_page(request):
    wards = Ward.objects.all()
    code = request.GET.get("ward", "")
    ward = wards.filter(code=code).first() if code else wards.first()
    if code and ward is None:
        allowed = ", ".join(wards.values_list("code", flat=True))
        messages.error(request, f"ward={code!r} is invalid: expected one of {allowed}")
    run = None
    if ward is not None:
        run = (
            PlanningRun.objects.filter(
                ward=ward, status=RunStatus.DONE, snapshot__isnull=False
            )
            .order_by("-finished_at")
            .first()
        )
    points = charts.pareto_points(run) if run is not None else []
    mix = charts.tier_mix(ward)
    return render(
        request,
        "scheduler/charts.html",
        {
            "ward": ward,
            "wards": wards,
            "run": run,
            "points": points,
            "pareto_div": charts.pareto_div(points) if points else "",
            "tier_mix_div": charts.tier_mix_div(mix) if mix else "",
        },
        status=400 if code and ward is None else 200,
    )
