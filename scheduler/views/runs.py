from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from medtwin.roles import ADMIN, AUDITOR, role_required
from scheduler.models import PlanningRun
from scheduler.models.runs import Solver, Trigger
from scheduler.tasks import enqueue_run
from twins.models import Ward

RUNS_PER_PAGE = 50
# Form value that plans every ward in one problem.
HOSPITAL = "hospital"


@role_required(ADMIN, AUDITOR)
def run_list(request):
    runs = (
        PlanningRun.objects.select_related("ward")
        .annotate(placement_count=Count("placements"))
        .order_by("-created_at", "-pk")
    )
    page = Paginator(runs, RUNS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "scheduler/run_list.html",
        {"page": page, "wards": Ward.objects.all(), "solvers": Solver.choices},
    )


@role_required(ADMIN, AUDITOR)
def run_detail(request, run_id):
    run = get_object_or_404(PlanningRun.objects.select_related("ward"), pk=run_id)
    placements = run.placements.select_related("node", "bed")
    return render(
        request,
        "scheduler/run_detail.html",
        {"run": run, "placements": placements, "can_compare": run.snapshot is not None},
    )


@require_POST
@role_required(ADMIN)
def request_run(request):
    code = request.POST.get("ward")
    ward = Ward.objects.filter(code=code).first()
    solver = request.POST.get("solver")
    if ward is None and code != HOSPITAL:
        messages.error(
            request,
            f"ward {code!r} not found: use a ward code or {HOSPITAL!r} for "
            "every ward at once",
        )
        return redirect("scheduler:runs")
    if solver not in Solver.values:
        messages.error(
            request,
            f"solver {solver!r} is invalid: use one of {', '.join(Solver.values)}",
        )
        return redirect("scheduler:runs")
    run = enqueue_run(ward, solver, Trigger.MANUAL, requested_by=request.user)
    messages.info(request, f"run {run.pk} queued")
    return redirect("scheduler:run", run_id=run.pk)
