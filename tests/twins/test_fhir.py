"""FHIR vital-signs input: POST /fhir/Observation and POST /fhir (transaction)."""

import copy
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from twins.models import DeviceToken, Observation, Patient

pytestmark = pytest.mark.django_db

CATEGORY = [
    {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                "code": "vital-signs",
            }
        ]
    }
]


@pytest.fixture
def token(db):
    _, plain = DeviceToken.issue("monitor-bed01")
    return plain


@pytest.fixture
def pseudonym(ward):
    return Patient.objects.get(bed__code="icu1-bed01").pseudonym


def now_text(seconds_ago: int = 5) -> str:
    moment = timezone.now().replace(microsecond=0) - timedelta(seconds=seconds_ago)
    return moment.isoformat().replace("+00:00", "Z")


def quantity(value, code):
    return {"value": value, "system": "http://unitsofmeasure.org", "code": code}


def observation(pseudonym, loinc="8867-4", value=72, unit="/min", **overrides):
    resource = {
        "resourceType": "Observation",
        "status": "final",
        "category": copy.deepcopy(CATEGORY),
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
        "subject": {"reference": f"Patient/{pseudonym}"},
        "effectiveDateTime": now_text(),
        "valueQuantity": quantity(value, unit),
        "device": {"reference": "Device/monitor-bed01"},
    }
    resource.update(overrides)
    return resource


def blood_pressure(pseudonym, systolic, diastolic, unit="mm[Hg]"):
    resource = observation(pseudonym, loinc="85354-9")
    del resource["valueQuantity"]
    resource["component"] = [
        {
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "valueQuantity": quantity(value, unit),
        }
        for code, value in (("8480-6", systolic), ("8462-4", diastolic))
    ]
    return resource


def bundle(*resources, kind="transaction"):
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {"resource": resource, "request": {"method": "POST", "url": "Observation"}}
            for resource in resources
        ],
    }


def post(client, url, body, token):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(
        url,
        data=data,
        content_type="application/fhir+json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def stored(parameter):
    return Observation.objects.get(parameter=parameter)


CONVERSIONS = [
    ("heart rate", "8867-4", 72, "/min", {"heart_rate": (72.0, "/min")}),
    ("resp rate", "9279-1", 18, "/min", {"resp_rate": (18.0, "/min")}),
    ("SpO2 arterial", "2708-6", 97, "%", {"spo2": (97.0, "%")}),
    ("SpO2 pulse oximetry", "59408-5", 96, "%", {"spo2": (96.0, "%")}),
    ("temperature Cel", "8310-5", 37.2, "Cel", {"temperature": (37.2, "Cel")}),
    ("temperature degF", "8310-5", 98.6, "[degF]", {"temperature": (37.0, "Cel")}),
    ("temperature degF fever", "8310-5", 101.3, "[degF]",
     {"temperature": (38.5, "Cel")}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "loinc", "value", "unit", "expected"),
    CONVERSIONS,
    ids=[row[0] for row in CONVERSIONS],
)
def test_fhir_observation_unit_conversion(
    client, token, pseudonym, case, loinc, value, unit, expected
):
    body = observation(pseudonym, loinc=loinc, value=value, unit=unit)
    response = post(client, "/fhir/Observation", body, token)
    assert response.status_code == 201, response.content
    assert response["Content-Type"] == "application/fhir+json"
    assert response.json()["resourceType"] == "OperationOutcome"
    for parameter, (canonical, canonical_unit) in expected.items():
        assert stored(parameter).value == pytest.approx(canonical, abs=0.01)
        assert stored(parameter).unit == canonical_unit
        assert stored(parameter).patient.pseudonym == pseudonym


BP_CONVERSIONS = [
    ("mm[Hg]", 120, 80, 120.0, 80.0),
    ("kPa", 16, 10.7, 120.01, 80.26),
]


@pytest.mark.parametrize(
    ("unit", "sys_in", "dia_in", "sys_out", "dia_out"), BP_CONVERSIONS
)
def test_fhir_blood_pressure_components_stored(
    client, token, pseudonym, unit, sys_in, dia_in, sys_out, dia_out
):
    body = blood_pressure(pseudonym, sys_in, dia_in, unit)
    response = post(client, "/fhir/Observation", body, token)
    assert response.status_code == 201, response.content
    assert stored("systolic_bp").value == pytest.approx(sys_out, abs=0.01)
    assert stored("diastolic_bp").value == pytest.approx(dia_out, abs=0.01)
    assert stored("systolic_bp").unit == "mm[Hg]"


def test_fhir_bed_identifier_subject(client, token, ward):
    body = observation("unused")
    body["subject"] = {
        "type": "Patient",
        "identifier": {"system": "urn:medtwin:bed", "value": "icu1-bed02"},
    }
    response = post(client, "/fhir/Observation", body, token)
    assert response.status_code == 201, response.content
    assert stored("heart_rate").bed.code == "icu1-bed02"


def _set(path, value):
    def change(resource):
        target = resource
        *parents, last = path
        for key in parents:
            target = target[key]
        if value is DELETE:
            del target[last]
        else:
            target[last] = value

    return change


DELETE = object()
FUTURE = (timezone.now() + timedelta(hours=2)).replace(microsecond=0).isoformat()

# (case, change, expected expression, value expected in the diagnostics)
REJECTIONS = [
    ("entered in error", _set(["status"], "entered-in-error"), "Observation.status",
     "entered-in-error"),
    ("cancelled", _set(["status"], "cancelled"), "Observation.status", "cancelled"),
    ("invalid status code", _set(["status"], "done"), "Observation.status", "done"),
    ("no category", _set(["category"], DELETE), "Observation.category", None),
    ("laboratory category", _set(["category", 0, "coding", 0, "code"], "laboratory"),
     "Observation.category", "laboratory"),
    ("unknown LOINC code", _set(["code", "coding", 0, "code"], "2339-0"),
     "Observation.code.coding", "2339-0"),
    ("non-UCUM unit", _set(["valueQuantity", "code"], "furlongs"),
     "Observation.valueQuantity.code", "furlongs"),
    ("unit of another vital", _set(["valueQuantity", "code"], "%"),
     "Observation.valueQuantity.code", "'%'"),
    ("unit system", _set(["valueQuantity", "system"], "http://snomed.info/sct"),
     "Observation.valueQuantity.system", "snomed"),
    ("no value no reason", _set(["valueQuantity"], DELETE), "Observation.value[x]",
     None),
    ("string value", _set(["valueQuantity"], DELETE), "Observation.valueString",
     None),
    ("text number", _set(["valueQuantity", "value"], "fast"),
     "Observation.valueQuantity.value", "fast"),
    ("impossible value", _set(["valueQuantity", "value"], 400),
     "Observation.valueQuantity.value", "400"),
    ("negative rate", _set(["valueQuantity", "value"], -3),
     "Observation.valueQuantity.value", "-3"),
    ("time without zone", _set(["effectiveDateTime"], "2026-01-01T10:00:00"),
     "Observation.effectiveDateTime", "2026-01-01T10:00:00"),
    ("date only", _set(["effectiveDateTime"], "2026-01-01"),
     "Observation.effectiveDateTime", "2026-01-01"),
    ("no effective time", _set(["effectiveDateTime"], DELETE),
     "Observation.effective", None),
    ("future time", _set(["effectiveDateTime"], FUTURE),
     "Observation.effectiveDateTime", FUTURE[:16]),
    ("unknown patient", _set(["subject", "reference"], "Patient/PT-NOBODY"),
     "Observation.subject.reference", "PT-NOBODY"),
    ("group subject", _set(["subject", "reference"], "Group/7"),
     "Observation.subject.reference", "Group/7"),
    ("no subject", _set(["subject"], DELETE), "Observation.subject", None),
    ("unknown element", _set(["colour"], "red"), "Observation.colour", "red"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "change", "expression", "value"),
    REJECTIONS,
    ids=[row[0] for row in REJECTIONS],
)
def test_fhir_observation_rejected(
    client, token, pseudonym, case, change, expression, value
):
    body = observation(pseudonym)
    change(body)
    if case == "string value":
        body["valueString"] = "72"

    response = post(client, "/fhir/Observation", body, token)

    assert response.status_code == 400, response.content
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    issue = outcome["issue"][0]
    assert issue["severity"] == "error"
    assert issue["expression"] == [expression]
    if value is not None:
        assert value in issue["diagnostics"]
    assert Observation.objects.count() == 0


def test_fhir_unknown_bed_rejected(client, token, ward):
    body = observation("unused")
    body["subject"] = {"identifier": {"system": "urn:medtwin:bed", "value": "icu9-x"}}
    response = post(client, "/fhir/Observation", body, token)
    assert response.status_code == 400
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["Observation.subject.identifier.value"]
    assert "icu9-x" in issue["diagnostics"]
    assert Observation.objects.count() == 0


def test_fhir_blood_pressure_component_unit_rejected(client, token, pseudonym):
    body = blood_pressure(pseudonym, 120, 80)
    body["component"][1]["valueQuantity"]["code"] = "mmHg"
    response = post(client, "/fhir/Observation", body, token)
    assert response.status_code == 400
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["Observation.component[1].valueQuantity.code"]
    assert "mmHg" in issue["diagnostics"]
    assert Observation.objects.count() == 0


def test_fhir_blood_pressure_panel_without_components(client, token, pseudonym):
    body = blood_pressure(pseudonym, 120, 80)
    del body["component"]
    response = post(client, "/fhir/Observation", body, token)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["Observation.component"]


def test_fhir_wrong_resource_type_rejected(client, token, ward):
    response = post(client, "/fhir/Observation", {"resourceType": "Patient"}, token)
    assert response.status_code == 400
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["Observation"]
    assert "Patient" in issue["diagnostics"]


def test_fhir_data_absent_reason_stores_nothing(client, token, pseudonym):
    body = observation(pseudonym)
    del body["valueQuantity"]
    body["dataAbsentReason"] = {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                "code": "error",
            }
        ]
    }
    response = post(client, "/fhir/Observation", body, token)
    assert response.status_code == 200, response.content
    issue = response.json()["issue"][0]
    assert issue["severity"] == "information"
    assert "nothing stored" in issue["diagnostics"]
    assert Observation.objects.count() == 0


def test_fhir_transaction_stores_all(client, token, pseudonym):
    body = bundle(
        observation(pseudonym),
        observation(pseudonym, loinc="2708-6", value=95, unit="%"),
        blood_pressure(pseudonym, 118, 76),
    )
    response = post(client, "/fhir", body, token)
    assert response.status_code == 200, response.content
    result = response.json()
    assert result["type"] == "transaction-response"
    assert [e["response"]["status"] for e in result["entry"]] == ["201 Created"] * 3
    assert Observation.objects.count() == 4


def test_fhir_transaction_one_bad_entry_stores_nothing(client, token, pseudonym):
    body = bundle(
        observation(pseudonym),
        observation(pseudonym, loinc="2708-6", value=95, unit="%"),
        observation(pseudonym, loinc="9279-1", value=16, unit="breaths/min"),
    )
    response = post(client, "/fhir", body, token)
    assert response.status_code == 400
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["Bundle.entry[2].resource.valueQuantity.code"]
    assert "breaths/min" in issue["diagnostics"]
    assert "/min" in issue["diagnostics"]
    assert Observation.objects.count() == 0


def test_fhir_transaction_ingest_error_names_entry(client, token, pseudonym):
    # The panel in entry 0 yields two readings, so ingest's reading index 2
    # must map back to entry 1, not entry 2.
    body = bundle(
        blood_pressure(pseudonym, 120, 80),
        observation(pseudonym, loinc="2708-6", value=101, unit="%"),
    )
    response = post(client, "/fhir", body, token)
    assert response.status_code == 400
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["Bundle.entry[1].resource.valueQuantity.value"]
    assert "101" in issue["diagnostics"]
    assert Observation.objects.count() == 0


BUNDLE_REJECTIONS = [
    ("batch bundle", {"type": "batch"}, "Bundle.type", "batch"),
    ("patient entry", {"resource": {"resourceType": "Patient"}},
     "Bundle.entry[0].resource.resourceType", "Patient"),
    ("put request", {"request": {"method": "PUT", "url": "Observation/1"}},
     "Bundle.entry[0].request", "PUT"),
    ("no entries", {"entry": []}, "Bundle.entry", None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "change", "expression", "value"),
    BUNDLE_REJECTIONS,
    ids=[row[0] for row in BUNDLE_REJECTIONS],
)
def test_fhir_transaction_rejected(
    client, token, pseudonym, case, change, expression, value
):
    body = bundle(observation(pseudonym))
    if "type" in change or "entry" in change:
        body.update(change)
    else:
        body["entry"][0].update(change)
    response = post(client, "/fhir", body, token)
    assert response.status_code == 400, response.content
    issue = response.json()["issue"][0]
    assert issue["expression"] == [expression]
    if value is not None:
        assert value in issue["diagnostics"]
    assert Observation.objects.count() == 0


def test_fhir_transaction_resend_is_idempotent(client, token, pseudonym):
    body = bundle(observation(pseudonym), blood_pressure(pseudonym, 120, 80))
    first = post(client, "/fhir", body, token)
    second = post(client, "/fhir", body, token)
    assert first.status_code == 200
    assert second.status_code == 200
    statuses = [e["response"]["status"] for e in second.json()["entry"]]
    assert statuses == ["200 OK", "200 OK"]
    assert Observation.objects.count() == 3


def test_fhir_observation_resend_returns_ok(client, token, pseudonym):
    body = observation(pseudonym)
    assert post(client, "/fhir/Observation", body, token).status_code == 201
    assert post(client, "/fhir/Observation", body, token).status_code == 200
    assert Observation.objects.count() == 1


def test_fhir_invalid_json_rejected(client, token, ward):
    response = post(client, "/fhir", "{not json", token)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["Bundle"]


def test_fhir_requires_device_token(client, pseudonym):
    response = client.post(
        "/fhir/Observation",
        data=json.dumps(observation(pseudonym)),
        content_type="application/fhir+json",
    )
    assert response.status_code == 401
    assert response.json()["issue"][0]["code"] == "login"
    assert Observation.objects.count() == 0


def test_fhir_rejects_revoked_token(client, token, pseudonym):
    DeviceToken.objects.update(revoked_at=timezone.now())
    response = post(client, "/fhir", bundle(observation(pseudonym)), token)
    assert response.status_code == 401
    assert "revoked" in response.json()["issue"][0]["diagnostics"]
    assert Observation.objects.count() == 0
