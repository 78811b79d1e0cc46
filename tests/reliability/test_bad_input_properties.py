"""Property-based bad input: every invalid input gets a 4xx or a ValueError
that names the field and the value, never a server error, and stores nothing.
"""

import json

import pytest
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.core import read_gap_file
from twins.models import DeviceToken, Observation

EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)

PARAMETERS = ["heart_rate", "spo2", "resp_rate", "temperature", "systolic_bp"]


def near_valid_reading():
    """Build readings that are valid except where the strategy varies them."""
    now = timezone.now().replace(microsecond=0)
    return st.fixed_dictionaries(
        {
            "bed": st.sampled_from(["icu1-bed01", "icu1-bed99", "", 7]),
            "device": st.sampled_from(["monitor-1", "", None]),
            "timestamp": st.sampled_from(
                [
                    now.isoformat(),
                    (now - timezone.timedelta(days=400)).isoformat(),
                    (now + timezone.timedelta(hours=2)).isoformat(),
                    now.replace(tzinfo=None).isoformat(),
                    "yesterday",
                    None,
                ]
            ),
            "parameter": st.sampled_from([*PARAMETERS, "mood", None]),
            "value": st.one_of(
                st.floats(-1e6, 1e6, allow_nan=False), st.text(max_size=4), st.none()
            ),
            "unit": st.sampled_from(["/min", "%", "Cel", "[degF]", "mm[Hg]", "kg"]),
        }
    )


@pytest.fixture
def device_client(ward):
    _, token = DeviceToken.issue(name="property-monitor")
    return Client(headers={"authorization": f"Bearer {token}"})


def post_batch(client, body: bytes):
    return client.post(
        "/api/v1/observations", data=body, content_type="application/json"
    )


def assert_named_errors(response):
    errors = response.json()["errors"]
    assert errors
    for error in errors:
        assert error["field"]
        assert "value" in error
        assert error["message"]


@pytest.mark.django_db
@EXAMPLES
@given(payload=json_values)
def test_ingest_any_json_never_server_error(device_client, payload):
    before = Observation.objects.count()
    response = post_batch(device_client, json.dumps(payload).encode())
    assert response.status_code in (201, 400)
    if response.status_code == 400:
        assert_named_errors(response)
        assert Observation.objects.count() == before


@pytest.mark.django_db
@EXAMPLES
@given(readings=st.lists(near_valid_reading(), min_size=1, max_size=4))
def test_ingest_batch_all_or_nothing(device_client, readings):
    before = Observation.objects.count()
    response = post_batch(device_client, json.dumps({"readings": readings}).encode())
    assert response.status_code in (201, 400)
    if response.status_code == 400:
        assert_named_errors(response)
        assert Observation.objects.count() == before
    else:
        assert Observation.objects.count() - before == response.json()["stored"]


@pytest.mark.django_db
@EXAMPLES
@given(body=st.binary(max_size=200))
def test_ingest_raw_bytes_rejected_cleanly(device_client, body):
    before = Observation.objects.count()
    response = post_batch(device_client, body)
    assert response.status_code in (201, 400)
    if response.status_code == 400:
        assert_named_errors(response)
        assert Observation.objects.count() == before


@pytest.mark.django_db
@EXAMPLES
@given(resource=st.dictionaries(
    st.sampled_from(["resourceType", "status", "code", "subject", "valueQuantity",
                     "effectiveDateTime", "category", "component"]),
    json_values, max_size=8,
))  # fmt: skip
def test_fhir_observation_never_server_error(device_client, resource):
    before = Observation.objects.count()
    response = device_client.post(
        "/fhir/Observation",
        data=json.dumps(resource),
        content_type="application/fhir+json",
    )
    assert 400 <= response.status_code < 500
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert all(issue.get("expression") or issue.get("diagnostics")
               for issue in outcome["issue"])  # fmt: skip
    assert Observation.objects.count() == before


gap_tokens = st.lists(
    st.one_of(st.integers(-3, 12).map(str), st.sampled_from(["x", "1.5", "--"])),
    max_size=40,
)


@EXAMPLES
@given(tokens=gap_tokens, breaks=st.lists(st.booleans(), max_size=40))
def test_gap_reader_errors_name_file(tmp_path, tokens, breaks):
    path = tmp_path / "instance.txt"
    text = "".join(
        token + ("\n" if index < len(breaks) and breaks[index] else " ")
        for index, token in enumerate(tokens)
    )
    path.write_text(text)
    try:
        instances = read_gap_file(path)
    except ValueError as error:
        assert str(path) in str(error)
    else:
        for instance in instances:
            assert instance.agents >= 1
            assert instance.jobs >= 1
