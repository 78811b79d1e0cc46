"""Values too old to describe the patient count as missing in NEWS2."""

import pytest
from django.utils import timezone

from twins.ingest import ingest
from twins.models import TwinState
from twins.twin import score_twin
from twins.vitals import Source

pytestmark = pytest.mark.django_db(transaction=True)


def reading(parameter, value, unit, at):
    return {
        "bed": "icu1-bed06",
        "device": f"device-{parameter}",
        "timestamp": at.isoformat(),
        "parameter": parameter,
        "value": value,
        "unit": unit,
    }


def full_set(at):
    return [
        reading("systolic_bp", 120, "mm[Hg]", at),
        reading("temperature", 37, "Cel", at),
        reading("consciousness", "A", "{ACVPU}", at),
        reading("supplemental_oxygen", 0, "{yes/no}", at),
    ]


def monitor(at):
    return [
        reading("heart_rate", 70, "/min", at),
        reading("resp_rate", 16, "/min", at),
        reading("spo2", 97, "%", at),
    ]


def test_manual_values_days_old_make_score_partial(ward):
    now = timezone.now().replace(microsecond=0)
    ingest(full_set(now - timezone.timedelta(days=2)) + monitor(now), Source.DEVICE)
    news2 = TwinState.objects.get(bed__code="icu1-bed06").news2
    assert news2["partial"] is True
    assert set(news2["missing"]) == {
        "systolic_bp", "temperature", "consciousness", "air_or_oxygen",
    }  # fmt: skip


def test_recent_manual_values_make_score_complete(ward):
    now = timezone.now().replace(microsecond=0)
    ingest(full_set(now - timezone.timedelta(hours=1)) + monitor(now), Source.DEVICE)
    news2 = TwinState.objects.get(bed__code="icu1-bed06").news2
    assert news2["partial"] is False
    assert news2["aggregate"] == 0


@pytest.mark.parametrize(
    ("age", "counted"),
    [
        (timezone.timedelta(minutes=4, seconds=59), True),
        (timezone.timedelta(minutes=5, seconds=1), False),
    ],
)
def test_monitored_value_age_limit(age, counted):
    now = timezone.now()
    latest = {
        "heart_rate": {
            "value": 140, "at": (now - age).isoformat(),
            "flagged": False, "flag_reason": "",
        }
    }  # fmt: skip
    scores = score_twin(latest, 1, now)["scores"]
    assert ("pulse" in scores) is counted
