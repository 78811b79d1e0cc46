"""Snapshots of bed twins and their delivery to ward groups over Channels.

Frames are sent only after the transaction that changed the twin commits,
so no page ever shows a reading that was rolled back.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from twins.models import Bed, Patient

logger = logging.getLogger(__name__)

BED_UPDATED = "bed.updated"
WARD_SNAPSHOT = "ward.snapshot"


def bed_snapshot(bed: Bed, patient: Patient | None) -> dict:
    twin = getattr(bed, "twin", None)
    return {
        "bed": bed.code,
        "label": bed.label,
        "patient": patient.pseudonym if patient else None,
        "sequence": twin.sequence if twin else 0,
        "updated_at": twin.updated_at.isoformat() if twin and twin.updated_at else None,
        "vitals": twin.latest if twin else {},
        "news2": twin.news2 if twin else {},
    }


def _admitted_by_bed(beds) -> dict[int, Patient]:
    return {
        patient.bed_id: patient
        for patient in Patient.objects.filter(bed__in=beds, discharged_at__isnull=True)
    }


def ward_snapshot(ward) -> list[dict]:
    beds = list(ward.beds.select_related("twin").order_by("code"))
    patients = _admitted_by_bed(beds)
    return [bed_snapshot(bed, patients.get(bed.pk)) for bed in beds]


def broadcast_beds(bed_ids: list[int]) -> None:
    """Send each bed's new state to its ward's group."""
    if not bed_ids:
        return
    layer = get_channel_layer()
    beds = list(Bed.objects.select_related("twin", "ward").filter(pk__in=bed_ids))
    patients = _admitted_by_bed(beds)
    for bed in beds:
        message = {
            "type": BED_UPDATED,
            "bed": bed_snapshot(bed, patients.get(bed.pk)),
        }
        try:
            async_to_sync(layer.group_send)(bed.ward.group_name, message)
        except Exception:
            # The reading is stored and the twin updated; a page that misses
            # this frame sees the sequence jump and asks for a snapshot.
            logger.exception("live update for bed %s not sent", bed.code)
