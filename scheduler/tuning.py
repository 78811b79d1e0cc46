"""Apply admin changes to the weights and the node inventory.

Each change is written with its change-log row in one transaction and
queues a re-plan of the wards it affects once that transaction commits.
"""

import logging

from django.db import transaction
from django.forms.models import model_to_dict

from scheduler import core
from scheduler.forms import CUSTOM_PROFILE
from scheduler.heartbeats import set_node_state, wards_served
from scheduler.models import ChangeLog, ComputeNode, WeightProfile
from scheduler.models.changes import ChangeKind
from scheduler.models.runs import Trigger
from scheduler.planning import active_weights
from scheduler.tasks import replan
from twins.models import Ward

logger = logging.getLogger(__name__)


class NoChange(Exception):
    """Raised when an applied setting equals the one in force."""


def _weights_value(profile: str, weights: core.Weights) -> dict:
    return {
        "profile": profile,
        "latency": weights.latency,
        "cost": weights.cost,
        "security": weights.security,
    }


@transaction.atomic
def apply_weights(profile: str, weights: core.Weights, reason: str, user):
    """Make ``weights`` the active weights, log the change and re-plan.

    Returns the queued runs. Raises ``NoChange`` if they are in force already.
    """
    # Locking every profile row serialises concurrent applies, so each
    # change-log row's old value is the value it really replaced.
    list(WeightProfile.objects.select_for_update())
    old_profile, old_weights = active_weights()
    old = _weights_value(old_profile, old_weights)
    new = _weights_value(profile, weights)
    if old == new:
        raise NoChange(f"profile {profile} with these weights is already in force")

    WeightProfile.objects.filter(is_active=True).update(is_active=False)
    if profile == CUSTOM_PROFILE:
        WeightProfile.objects.update_or_create(
            name=CUSTOM_PROFILE,
            defaults={
                "label": "custom",
                "latency": weights.latency,
                "cost": weights.cost,
                "security": weights.security,
                "is_active": True,
            },
        )
    else:
        WeightProfile.objects.filter(name=profile).update(is_active=True)
    ChangeLog.objects.create(
        user=user,
        kind=ChangeKind.WEIGHTS,
        target="active weights",
        old_value=old,
        new_value=new,
        reason=reason,
    )
    logger.info("weights changed by user %s: %s -> %s", user.pk, old, new)
    return replan(Ward.objects.all(), Trigger.WEIGHT_CHANGE, requested_by=user)


def _json_value(value):
    return getattr(value, "pk", value)


def node_value(node: ComputeNode) -> dict:
    from scheduler.forms import NODE_FIELDS

    return {
        name: _json_value(value)
        for name, value in model_to_dict(node, fields=NODE_FIELDS).items()
    }


@transaction.atomic
def save_node(form, user):
    """Save a valid ``NodeForm``, log the change and re-plan affected wards.

    Returns the saved node. Raises ``NoChange`` if no field changed.
    """
    instance = form.instance
    old = None
    old_wards = set()
    if instance.pk is not None:
        stored = ComputeNode.objects.select_for_update().get(pk=instance.pk)
        old = node_value(stored)
        old_wards = set(wards_served(stored).values_list("pk", flat=True))
    new_is_up = form.cleaned_data["is_up"]
    node = form.save(commit=False)
    if old is not None:
        # The up/down state goes through set_node_state, which logs it and
        # re-plans on its own.
        node.is_up = old["is_up"]
    new = node_value(node) | {"is_up": new_is_up}
    if old == new:
        raise NoChange(f"node {node.name} already has these values")
    node.save()
    reason = form.cleaned_data["reason"]
    changed = {k: v for k, v in new.items() if old is None or old.get(k) != v}
    figures = {k: v for k, v in changed.items() if k != "is_up"}
    if figures:
        ChangeLog.objects.create(
            user=user,
            kind=ChangeKind.NODE,
            target=node.name,
            old_value=None if old is None else {k: old[k] for k in figures},
            new_value=figures,
            reason=reason,
        )
        wards = old_wards | set(wards_served(node).values_list("pk", flat=True))
        replan(Ward.objects.filter(pk__in=wards), Trigger.INVENTORY_CHANGE, user)
    if old is not None and "is_up" in changed:
        set_node_state(node, new_is_up, reason, user=user)
    return node
