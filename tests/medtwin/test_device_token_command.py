"""The device_token command: issue, use, list and revoke a device's token."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from twins.models import DeviceToken, Observation

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command("device_token", *args, stdout=out)
    return out.getvalue().strip()


def post_one(token: str):
    reading = {
        "bed": "icu1-bed01",
        "device": "monitor-bed01",
        "timestamp": timezone.now().isoformat(),
        "parameter": "heart_rate",
        "value": 70,
        "unit": "/min",
    }
    return Client().post(
        "/api/v1/observations",
        {"readings": [reading]},
        content_type="application/json",
        headers={"authorization": f"Bearer {token}"},
    )


def test_issued_token_works_until_revoked(ward):
    token = run("issue", "monitor-bed01")
    assert DeviceToken.objects.get(name="monitor-bed01").token_hash != token
    assert post_one(token).status_code == 201
    assert run("revoke", "monitor-bed01") == "revoked monitor-bed01"
    assert post_one(token).status_code == 401
    assert Observation.objects.count() == 1
    assert "monitor-bed01\trevoked" in run("list")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("issue", " "), "name='' is invalid"),
        (("issue", "x" * 101), "is invalid: expected 1 to 100 characters"),
        (("revoke", "nobody"), "name='nobody' not found"),
    ],
)
def test_bad_arguments_rejected(args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert DeviceToken.objects.count() == 0


def test_duplicate_name_rejected():
    run("issue", "monitor-bed02")
    with pytest.raises(CommandError, match="already issued"):
        run("issue", "monitor-bed02")
    assert DeviceToken.objects.count() == 1


def test_revoked_device_issued_anew(ward):
    old = run("issue", "monitor-bed03")
    run("revoke", "monitor-bed03")
    new = run("issue", "monitor-bed03")
    assert new != old
    assert post_one(old).status_code == 401
    assert post_one(new).status_code == 201
    assert DeviceToken.objects.filter(name="monitor-bed03").count() == 1
