"""Node heartbeats: monitored nodes report in, silent ones are marked down.

A node becomes monitored when it gets a heartbeat token. Beat runs
``mark_silent_nodes_down`` every few seconds. A node that has not reported
for ``NODE_HEARTBEAT_TIMEOUT_SECONDS`` is marked down and every ward it
serves is re-planned, which moves its tasks. Its next heartbeat marks it up
again and re-plans once more, unless an admin set it down by hand.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from scheduler.models import ChangeLog, ComputeNode
from scheduler.models.changes import ChangeKind
from scheduler.models.runs import Trigger
from scheduler.tasks import replan
from twins.models import Ward

logger = logging.getLogger(__name__)


def wards_served(node: ComputeNode):
    """Return the wards whose plans may use ``node``: its own, or all for cloud."""
    if node.ward_id is not None:
        return Ward.objects.filter(pk=node.ward_id)
    return Ward.objects.all()


def _down_by_heartbeat(node: ComputeNode) -> bool:
    last = (
        ChangeLog.objects.filter(kind=ChangeKind.NODE_STATE, target=node.name)
        .order_by("-at", "-pk")
        .first()
    )
    return last is not None and last.user_id is None


def set_node_state(node: ComputeNode, is_up: bool, reason: str, user=None) -> None:
    """Mark ``node`` up or down, log the change and re-plan the wards it serves.

    Call inside a transaction that holds the node's row lock.
    """
    if node.is_up == is_up:
        return
    node.is_up = is_up
    node.save(update_fields=["is_up"])
    ChangeLog.objects.create(
        user=user,
        kind=ChangeKind.NODE_STATE,
        target=node.name,
        old_value={"is_up": not is_up},
        new_value={"is_up": is_up},
        reason=reason,
    )
    trigger = Trigger.NODE_UP if is_up else Trigger.NODE_DOWN
    runs = replan(wards_served(node), trigger, requested_by=user)
    logger.warning(
        "node %s marked %s (%s); runs %s queued",
        node.name, "up" if is_up else "down", reason, [run.pk for run in runs],
    )  # fmt: skip


def record_heartbeat(node_id: int) -> ComputeNode:
    """Store a heartbeat; a node that missed heartbeats before is marked up."""
    with transaction.atomic():
        node = ComputeNode.objects.select_for_update().get(pk=node_id)
        node.last_heartbeat_at = timezone.now()
        node.save(update_fields=["last_heartbeat_at"])
        if not node.is_up and _down_by_heartbeat(node):
            set_node_state(node, True, "heartbeat received after a missed heartbeat")
    return node


def mark_silent_nodes_down(now=None) -> list[ComputeNode]:
    """Mark each monitored, up node without a recent heartbeat down."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.NODE_HEARTBEAT_TIMEOUT_SECONDS)
    silent = Q(last_heartbeat_at__lt=cutoff) | Q(
        last_heartbeat_at__isnull=True, heartbeat_token_issued_at__lt=cutoff
    )
    marked = []
    with transaction.atomic():
        nodes = (
            ComputeNode.objects.select_for_update(skip_locked=True)
            .exclude(heartbeat_token_hash="")
            .filter(silent, is_up=True)
        )
        for node in nodes:
            seen = node.last_heartbeat_at or node.heartbeat_token_issued_at
            set_node_state(
                node,
                False,
                f"no heartbeat since {seen.isoformat()}, over "
                f"{settings.NODE_HEARTBEAT_TIMEOUT_SECONDS} s",
            )
            marked.append(node)
    return marked
