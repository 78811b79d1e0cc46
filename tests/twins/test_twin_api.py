"""GET /api/v1/beds/<bed>/twin: contents and who may read it."""

import pytest

from tests.twins.conftest import BED
from twins.models import DeviceToken, Patient, TwinState

pytestmark = pytest.mark.django_db

URL = f"/api/v1/beds/{BED}/twin"


def get_as(client, user, url=URL, **headers):
    if user is not None:
        client.force_login(user)
    return client.get(url, **headers)


def test_twin_api_returns_state(client, ward, nurse, send_vitals):
    send_vitals(heart_rate=135, resp_rate=25, spo2=91, temperature=37.2)
    response = get_as(client, nurse)
    assert response.status_code == 200, response.content
    body = response.json()
    twin = TwinState.objects.get(bed__code=BED)
    patient = Patient.objects.get(bed__code=BED, discharged_at__isnull=True)
    assert body["bed"] == BED
    assert body["ward"] == ward.code
    assert body["patient"] == patient.pseudonym
    assert body["sequence"] == twin.sequence
    assert body["vitals"]["heart_rate"]["value"] == 135
    assert body["vitals"]["heart_rate"]["unit"] == "/min"
    assert body["vitals"]["temperature"]["unit"] == "Cel"
    assert body["vitals"]["spo2"]["at"] == twin.latest["spo2"]["at"]
    assert body["news2"]["scores"]["pulse"] == 3
    assert body["news2"]["scores"]["temperature"] == 0
    assert body["news2"]["aggregate"] == 9
    assert body["news2"]["band"] == "high"
    assert body["news2"]["partial"] is True
    [alert] = body["alerts"]
    assert alert["priority"] == "high"
    assert alert["state"] == "active"
    assert body["forecast"] == {}


def test_twin_api_admin_allowed(client, ward, admin_user):
    response = get_as(client, admin_user)
    assert response.status_code == 200
    assert response.json()["alerts"] == []


def test_twin_api_anonymous_401(client, ward):
    response = get_as(client, None)
    assert response.status_code == 401
    assert response.json()["errors"][0]["message"].startswith("not logged in")


def test_twin_api_device_token_401(client, ward):
    _, token = DeviceToken.issue("monitor-bed01")
    response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401
    assert "device tokens may only post" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("fixture", ["auditor", "no_role_user"])
def test_twin_api_other_roles_403(client, ward, request, fixture):
    response = get_as(client, request.getfixturevalue(fixture))
    assert response.status_code == 403
    error = response.json()["errors"][0]
    assert error["field"] == "role"
    assert "nurse or admin" in error["message"]


def test_twin_api_unassigned_nurse_403(client, ward, other_nurse):
    response = get_as(client, other_nurse)
    assert response.status_code == 403
    error = response.json()["errors"][0]
    assert error["value"] == BED
    assert "not assigned" in error["message"]


def test_twin_api_unknown_bed_404(client, ward, nurse):
    response = get_as(client, nurse, "/api/v1/beds/no-such-bed/twin")
    assert response.status_code == 404
    error = response.json()["errors"][0]
    assert error["field"] == "bed"
    assert error["value"] == "no-such-bed"


def test_twin_api_post_not_allowed(client, ward, nurse):
    client.force_login(nurse)
    assert client.post(URL).status_code == 405
