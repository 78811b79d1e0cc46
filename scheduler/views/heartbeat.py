"""Heartbeat endpoint for compute nodes, authenticated by a per-node token."""

import json
import logging

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from scheduler.heartbeats import record_heartbeat
from scheduler.models import ComputeNode

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 4096


def _bearer_token(request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


@csrf_exempt
@require_POST
def heartbeat(request):
    """Record that the node owning the bearer token is alive.

    The body is optional. If it is a JSON object with ``node``, that name
    must be the token's node, which catches a token installed on the wrong
    machine.
    """
    node = ComputeNode.for_heartbeat_token(_bearer_token(request))
    if node is None:
        logger.warning(
            "heartbeat with a missing or invalid token from %s",
            request.META.get("REMOTE_ADDR"),
        )
        return JsonResponse(
            {"error": "missing or invalid heartbeat token: send "
                      "'Authorization: Bearer <token>' with the node's token"},
            status=401,
        )  # fmt: skip
    if len(request.body) > MAX_BODY_BYTES:
        return JsonResponse(
            {"error": f"body of {len(request.body)} bytes is invalid: "
                      f"expected at most {MAX_BODY_BYTES}"},
            status=400,
        )  # fmt: skip
    if request.body.strip():
        try:
            body = json.loads(request.body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return JsonResponse(
                {"error": "body is invalid: expected a JSON object"}, status=400
            )
        if not isinstance(body, dict):
            return JsonResponse(
                {"error": f"body={body!r} is invalid: expected a JSON object"},
                status=400,
            )
        named = body.get("node")
        if named is not None and named != node.name:
            logger.warning("heartbeat for node %r sent with the token of %s",
                           named, node.name)  # fmt: skip
            return JsonResponse(
                {"error": f"node={named!r} is invalid: this token belongs to "
                          f"node {node.name!r}"},
                status=400,
            )  # fmt: skip
    node = record_heartbeat(node.pk)
    return JsonResponse(
        {
            "node": node.name,
            "is_up": node.is_up,
            "received_at": node.last_heartbeat_at.isoformat(),
        }
    )
