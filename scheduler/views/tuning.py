"""Admin tuning pages: weights with a preview, node inventory, alert
thresholds, change log."""

import logging

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from medtwin.roles import ADMIN, AUDITOR, role_required
from scheduler.forms import AlertThresholdsForm, NodeForm, WeightsForm
from scheduler.models import ChangeLog, ComputeNode, WeightProfile
from scheduler.models.changes import ChangeKind
from scheduler.planning import active_weights
from scheduler.preview import preview_weights
from scheduler.tuning import NoChange, apply_weights, save_node
from twins.alerts import thresholds
from twins.models import AlertThreshold
from twins.models.alerts import THRESHOLD_BOUNDS

logger = logging.getLogger(__name__)

CHANGES_PER_PAGE = 50
RECENT_WEIGHT_CHANGES = 10


def _weights_page(request, form, previews=None, status=200):
    profile, weights = active_weights()
    return render(
        request,
        "scheduler/weights.html",
        {
            "form": form,
            "errors": form.error_lines() if form.is_bound else [],
            "profiles": WeightProfile.objects.all(),
            "active_profile": profile,
            "active": weights,
            "previews": previews,
            "changes": ChangeLog.objects.filter(kind="weights")[:RECENT_WEIGHT_CHANGES],
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@role_required(ADMIN)
def weights(request):
    if request.method == "GET":
        profile, active = active_weights()
        form = WeightsForm(
            initial={
                "profile": profile,
                "latency": active.latency,
                "cost": active.cost,
                "security": active.security,
            }
        )
        return _weights_page(request, form)

    form = WeightsForm(request.POST)
    action = request.POST.get("action")
    if action not in ("preview", "apply"):
        messages.error(
            request, f"action={action!r} is invalid: expected preview or apply"
        )
        return _weights_page(request, form, status=400)
    if not form.is_valid():
        return _weights_page(request, form, status=400)
    profile, new_weights = form.weights()
    if action == "preview":
        _, old_weights = active_weights()
        previews = preview_weights(new_weights, old_weights)
        return _weights_page(request, form, previews=previews)
    try:
        runs = apply_weights(
            profile, new_weights, form.cleaned_data["reason"], request.user
        )
    except NoChange as error:
        messages.error(request, str(error))
        return _weights_page(request, form, status=400)
    messages.info(
        request,
        f"weights applied; re-plan runs {', '.join(str(r.pk) for r in runs)} queued",
    )
    return redirect("scheduler:weights")


@role_required(ADMIN)
def node_list(request):
    return render(
        request,
        "scheduler/node_list.html",
        {"nodes": ComputeNode.objects.select_related("ward", "bed")},
    )


@require_http_methods(["GET", "POST"])
@role_required(ADMIN)
def node_edit(request, name=None):
    node = get_object_or_404(ComputeNode, name=name) if name else ComputeNode()
    if request.method == "GET":
        form = NodeForm(instance=node)
        return render(request, "scheduler/node_edit.html", {"form": form, "node": node})
    form = NodeForm(request.POST, instance=node)
    if form.is_valid():
        try:
            saved = save_node(form, request.user)
        except NoChange as error:
            form.add_error(None, str(error))
        else:
            messages.info(request, f"node {saved.name} saved; affected wards re-plan")
            return redirect("scheduler:nodes")
    return render(
        request,
        "scheduler/node_edit.html",
        {"form": form, "node": node, "errors": form.error_lines()},
        status=400,
    )


@role_required(ADMIN, AUDITOR)
def change_log(request):
    changes = ChangeLog.objects.select_related("user")
    page = Paginator(changes, CHANGES_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "scheduler/change_log.html", {"page": page})


@require_http_methods(["GET", "POST"])
@role_required(ADMIN)
def alert_thresholds(request):
    """Show or change when alerts escalate and how long they may be silenced."""
    in_force = thresholds()
    if request.method == "GET":
        initial = {
            f"{priority}_{name}": value
            for priority, limits in in_force.items()
            for name, value in limits.items()
        }
        form = AlertThresholdsForm(initial=initial)
        return _thresholds_page(request, form, in_force)
    form = AlertThresholdsForm(request.POST)
    if not form.is_valid():
        return _thresholds_page(request, form, in_force, status=400)
    new = form.thresholds()
    if new == in_force:
        messages.error(request, "no change: the thresholds entered are in force")
        return _thresholds_page(request, form, in_force, status=400)
    with transaction.atomic():
        for priority, limits in new.items():
            AlertThreshold.objects.update_or_create(priority=priority, defaults=limits)
        ChangeLog.objects.create(
            user=request.user,
            kind=ChangeKind.ALERT_THRESHOLDS,
            target="all priorities",
            old_value=in_force,
            new_value=new,
            reason=form.cleaned_data["reason"],
        )
    logger.info("user %s changed alert thresholds to %s", request.user.pk, new)
    messages.info(request, "alert thresholds applied")
    return redirect("scheduler:alert_thresholds")


def _thresholds_page(request, form, in_force, status=200):
    return render(
        request,
        "scheduler/alert_thresholds.html",
        {
            "form": form,
            "errors": form.error_lines() if form.is_bound else [],
            "in_force": in_force,
            "bounds": THRESHOLD_BOUNDS,
            "changes": ChangeLog.objects.filter(kind=ChangeKind.ALERT_THRESHOLDS)[
                :RECENT_WEIGHT_CHANGES
            ],
        },
        status=status,
    )
