"""Pages where nurses enter what monitors do not measure, and the SpO2 scale.

Readings typed in here go through the same validation and twin update as a
device batch, stored with source "nurse", a device name of ``nurse:<user>``
and the user in ``Observation.entered_by``.
"""

import logging
from datetime import datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from medtwin.roles import NURSE, role_required, user_role
from twins.ingest import IngestError, ScaleDecisionError, decide_spo2_scale, ingest
from twins.models import Bed, Observation, Patient, Spo2ScaleDecision
from twins.vitals import ACVPU, PARAMETERS, Source

logger = logging.getLogger(__name__)

# Form field: parameter stored. Supplemental oxygen is a choice, the rest
# are typed in the parameter's canonical unit.
NUMBER_FIELDS = ("temperature", "systolic_bp", "diastolic_bp")
OXYGEN_CHOICES = {"air": 0, "oxygen": 1}
RECENT_ENTRIES = 20


class FormError(ValueError):
    def __init__(self, field: str, value, message: str):
        self.field, self.value, self.message = field, value, message
        super().__init__(message)

    def as_dict(self) -> dict:
        return {"field": self.field, "value": self.value, "message": self.message}


def _bed_for_user(request, bed_code: str) -> Bed:
    bed = get_object_or_404(Bed.objects.select_related("ward"), code=bed_code)
    if (
        user_role(request.user) == NURSE
        and not bed.ward.nurses.filter(pk=request.user.pk).exists()
    ):
        raise PermissionDenied(
            f"bed {bed_code} is on ward {bed.ward.code}, which you are not assigned to"
        )
    return bed


def _parse_observed_at(raw: str) -> datetime:
    """Read the form's local date and time in the hospital's time zone."""
    if not raw:
        return timezone.now().replace(microsecond=0)
    try:
        local = datetime.fromisoformat(raw)
    except ValueError:
        raise FormError(
            "observed_at", raw, "invalid time: use YYYY-MM-DDTHH:MM"
        ) from None
    if timezone.is_aware(local):
        return local
    return timezone.make_aware(local, timezone.get_current_timezone())


def _parse_number(field: str, raw: str) -> float:
    try:
        return float(raw.replace(",", "."))
    except ValueError:
        unit = PARAMETERS[field].unit
        raise FormError(
            field, raw, f"invalid {PARAMETERS[field].label.lower()}: a number in {unit}"
        ) from None


def readings_from_form(data, bed: Bed, user) -> list[dict]:
    """Turn the posted form into device-style readings; raise FormError."""
    observed_at = _parse_observed_at(data.get("observed_at", "").strip())
    values: dict[str, object] = {}
    consciousness = data.get("consciousness", "").strip()
    if consciousness:
        if consciousness not in ACVPU:
            raise FormError(
                "consciousness",
                consciousness,
                "invalid ACVPU level: use one of A, C, V, P, U",
            )
        values["consciousness"] = consciousness
    oxygen = data.get("supplemental_oxygen", "").strip()
    if oxygen:
        if oxygen not in OXYGEN_CHOICES:
            raise FormError(
                "supplemental_oxygen", oxygen, "invalid choice: use air or oxygen"
            )
        values["supplemental_oxygen"] = OXYGEN_CHOICES[oxygen]
    for field in NUMBER_FIELDS:
        raw = data.get(field, "").strip()
        if raw:
            values[field] = _parse_number(field, raw)
    if not values:
        raise FormError("form", None, "nothing entered: fill in at least one value")
    device = f"nurse:{user.get_username()}"[:100]
    return [
        {
            "bed": bed.code,
            "device": device,
            "timestamp": observed_at.isoformat(),
            "parameter": name,
            "value": value,
            "unit": PARAMETERS[name].unit,
        }
        for name, value in values.items()
    ]


def _ingest_errors(error: IngestError, readings: list[dict]) -> list[dict]:
    # Ingest names fields of a reading; the form has one field per parameter.
    result = []
    for item in error.errors:
        field = item.field
        if item.field == "value" and 0 <= item.index < len(readings):
            field = readings[item.index]["parameter"]
        elif item.field == "timestamp":
            field = "observed_at"
        result.append({"field": field, "value": item.value, "message": item.message})
    return result


def _page(request, bed: Bed, errors=(), status=200):
    patient = Patient.objects.filter(bed=bed, discharged_at__isnull=True).first()
    context = {
        "bed": bed,
        "patient": patient,
        "errors": list(errors),
        "values": request.POST if request.method == "POST" else {},
        "acvpu": ACVPU,
        "recent": Observation.objects.filter(bed=bed, source=Source.NURSE)
        .select_related("entered_by")
        .order_by("-observed_at", "-pk")[:RECENT_ENTRIES],
        "decisions": (
            Spo2ScaleDecision.objects.filter(patient=patient)
            .select_related("decided_by")
            .order_by("-decided_at")
            if patient
            else []
        ),
        "time_zone": timezone.get_current_timezone_name(),
    }
    return render(request, "twins/entry.html", context, status=status)


# Entering clinical observations and deciding the SpO2 scale are clinical
# acts, so admins, who run the system, may not do them.
@role_required(NURSE)
@require_http_methods(["GET", "POST"])
def nurse_observations(request, bed: str):
    """Show the entry form (GET) or store the entered readings (POST)."""
    found = _bed_for_user(request, bed)
    if request.method == "GET":
        return _page(request, found)
    readings = []
    try:
        readings = readings_from_form(request.POST, found, request.user)
        result = ingest(readings, Source.NURSE, entered_by=request.user)
    except FormError as error:
        return _page(request, found, [error.as_dict()], status=400)
    except IngestError as error:
        return _page(request, found, _ingest_errors(error, readings), status=400)
    logger.info(
        "user %s entered %s readings for bed %s",
        request.user.pk,
        result.stored,
        found.code,
    )
    messages.success(
        request,
        f"Stored {result.stored} readings for {found.label}"
        + (f" ({result.duplicates} already stored)" if result.duplicates else ""),
    )
    return redirect("entry:observations", bed=found.code)


@role_required(NURSE)
@require_POST
def spo2_scale(request, bed: str):
    """Record a documented decision to score the bed's patient on scale 1 or 2."""
    found = _bed_for_user(request, bed)
    patient = Patient.objects.filter(bed=found, discharged_at__isnull=True).first()
    if patient is None:
        error = {"field": "bed", "value": found.code, "message": "no admitted patient"}
        return _page(request, found, [error], status=400)
    raw = request.POST.get("scale", "")
    scale = int(raw) if raw in ("1", "2") else raw
    try:
        decide_spo2_scale(patient, scale, request.POST.get("reason"), request.user)
    except ScaleDecisionError as error:
        detail = {"field": error.field, "value": error.value, "message": error.message}
        return _page(request, found, [detail], status=400)
    messages.success(
        request, f"{patient.pseudonym} is now scored on SpO2 scale {scale}"
    )
    return redirect("entry:observations", bed=found.code)
