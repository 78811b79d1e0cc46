"""JSON views under /api/v1/: twin state for users, ECG chunks from devices.

Twin state is clinical data, so it follows the ward overview's rule: a nurse
assigned to the bed's ward, or an admin. Auditors review placement runs and
get 403 here. Device tokens only post readings and ECG chunks.
"""

import json
import logging

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from medtwin.roles import ADMIN, NURSE, user_role
from twins import alerts
from twins.models import Bed, DeviceToken, Patient, TwinState
from twins.vitals import PARAMETERS
from twins.waveforms import ChunkError, store_chunk

logger = logging.getLogger(__name__)

# 60 s of 12 leads at 1000 Hz as JSON is about 10 MB; a monitor sends less.
MAX_ECG_BODY_BYTES = 12_000_000


def _error(status: int, field: str, value, message: str) -> JsonResponse:
    return JsonResponse(
        {"errors": [{"field": field, "value": value, "message": message}]},
        status=status,
    )


def check_bed_access(request, bed_code: str) -> tuple[Bed | None, JsonResponse | None]:
    """Return the bed, or the 401/403/404 response the request gets instead."""
    if request.headers.get("Authorization", "").startswith("Bearer "):
        return None, _error(
            401,
            "Authorization",
            None,
            "device tokens may only post observations: log in as a nurse or admin",
        )
    if not request.user.is_authenticated:
        return None, _error(401, "session", None, "not logged in: log in first")
    role = user_role(request.user)
    if role not in (NURSE, ADMIN):
        return None, _error(
            403, "role", role, "twin state needs the role nurse or admin"
        )
    bed = Bed.objects.select_related("ward").filter(code=bed_code).first()
    if bed is None:
        return None, _error(404, "bed", bed_code, "unknown bed")
    if role == NURSE and not bed.ward.nurses.filter(pk=request.user.pk).exists():
        return None, _error(
            403,
            "bed",
            bed_code,
            f"bed {bed_code} is on ward {bed.ward.code}, which you are not assigned to",
        )
    return bed, None


def twin_state(bed: Bed) -> dict:
    """Return the twin of ``bed`` as the JSON document of the twin API."""
    twin = TwinState.objects.filter(bed=bed).first()
    patient = Patient.objects.filter(bed=bed, discharged_at__isnull=True).first()
    latest = twin.latest if twin else {}
    vitals = {
        name: {
            "value": entry["value"],
            "unit": PARAMETERS[name].unit,
            "at": entry["at"],
            "flagged": entry["flagged"],
            "flag_reason": entry["flag_reason"],
        }
        for name, entry in latest.items()
    }
    return {
        "bed": bed.code,
        "ward": bed.ward.code,
        "patient": patient.pseudonym if patient else None,
        "spo2_scale": patient.spo2_scale if patient else None,
        "sequence": twin.sequence if twin else 0,
        "updated_at": twin.updated_at.isoformat() if twin and twin.updated_at else None,
        "vitals": vitals,
        "news2": twin.news2 if twin else {},
        "alerts": [alerts.serialize_alert(a) for a in alerts.active_alerts(bed)],
        "forecast": twin.forecast if twin else {},
        "anomalies": twin.anomalies if twin else [],
    }


@require_GET
def bed_twin(request, bed: str):
    """GET /api/v1/beds/<bed>/twin: the bed's twin state as JSON."""
    found, refusal = check_bed_access(request, bed)
    if refusal is not None:
        return refusal
    return JsonResponse(twin_state(found))


def _device(request) -> tuple[DeviceToken | None, JsonResponse | None]:
    # NOTE: a token is not tied to a bed, so any valid device token may post
    # chunks for any bed, as on /api/v1/observations.
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Bearer" or not token.strip():
        return None, _error(
            401, "Authorization", None, "missing device token: send 'Bearer <token>'"
        )
    device = DeviceToken.authenticate(token.strip())
    if device is None:
        return None, _error(
            401, "Authorization", None, "invalid or revoked device token"
        )
    return device, None


@csrf_exempt
@require_POST
def bed_ecg(request, bed: str):
    """POST /api/v1/beds/<bed>/ecg: one ECG chunk from a device with a token."""
    device, refusal = _device(request)
    if refusal is not None:
        return refusal
    if len(request.body) > MAX_ECG_BODY_BYTES:
        return _error(
            413, "body", len(request.body), f"body over {MAX_ECG_BODY_BYTES} bytes"
        )
    found = Bed.objects.select_related("ward").filter(code=bed).first()
    if found is None:
        return _error(404, "bed", bed, "unknown bed")
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return _error(400, "body", None, "invalid JSON")
    try:
        result = store_chunk(found, body)
    except ChunkError as error:
        logger.info("ECG chunk from token %s rejected: %s", device.pk, error)
        return JsonResponse({"errors": [error.as_dict()]}, status=400)
    return JsonResponse(result.__dict__, status=200 if result.duplicate else 201)
