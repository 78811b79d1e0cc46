"""FHIR endpoints: ``POST /fhir/Observation`` and ``POST /fhir`` (transaction).

Both authenticate with the per-device bearer token of ``/api/v1/observations``
and store through ``twins.ingest.ingest``, so a transaction Bundle is stored
all or nothing. Invalid requests get HTTP 400 with an OperationOutcome whose
issues name the element as a FHIRPath expression.

Status codes follow the FHIR R4 RESTful API (http://hl7.org/fhir/R4/http.html):
a create returns 201 Created, a transaction returns 200 OK with a
transaction-response Bundle holding one ``response.status`` per entry. An
Observation whose readings are all stored already, or that holds only a
``dataAbsentReason``, gets 200 OK, as a conditional create that found a match
would.
"""

import logging
from datetime import datetime

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from twins.bodies import BodyError, read_json_body
from twins.fhir import (
    FhirRejected,
    Issue,
    MappedEntry,
    issues_from_ingest,
    map_observation,
    operation_outcome,
    parse_observation,
    structure_issues,
)
from twins.ingest import IngestError, ingest
from twins.models import DeviceToken, Observation
from twins.views import MAX_BODY_BYTES
from twins.vitals import Source

logger = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"


def _fhir_response(body: dict, status: int) -> JsonResponse:
    return JsonResponse(body, status=status, content_type=FHIR_JSON)


def _rejection(status: int, issues: list[Issue]) -> JsonResponse:
    return _fhir_response(operation_outcome(issues), status)


def _authenticate(request) -> DeviceToken | JsonResponse:
    # Same check as observations_api in twins.views, kept in step with it.
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Bearer" or not token:
        issue = Issue("Authorization", None, "missing device token", code="login")
        return _rejection(401, [issue])
    device = DeviceToken.authenticate(token.strip())
    if device is None:
        issue = Issue(
            "Authorization", None, "invalid or revoked device token", code="login"
        )
        return _rejection(401, [issue])
    return device


def _read_json(request, root: str) -> object:
    try:
        return read_json_body(request, MAX_BODY_BYTES)
    except BodyError as error:
        code = "too-costly" if error.status == 413 else "structure"
        raise FhirRejected(
            [Issue(root, error.value, error.message, code=code)]
        ) from None


def parse_transaction(payload: object) -> Bundle:
    """Check the structure of a transaction Bundle and its request lines."""
    if not isinstance(payload, dict) or payload.get("resourceType") != "Bundle":
        kind = payload.get("resourceType") if isinstance(payload, dict) else None
        raise FhirRejected([Issue("Bundle", kind, "body must be a Bundle resource")])
    try:
        bundle = Bundle.model_validate(payload)
    except ValidationError as error:
        raise FhirRejected(structure_issues(error, "Bundle")) from error
    if bundle.type != "transaction":
        raise FhirRejected(
            [
                Issue(
                    "Bundle.type",
                    bundle.type,
                    "unsupported Bundle type: use transaction",
                    code="not-supported",
                )
            ]
        )
    if not bundle.entry:
        raise FhirRejected(
            [Issue("Bundle.entry", None, "missing entry: a transaction needs one")]
        )
    issues = []
    for index, entry in enumerate(bundle.entry):
        issues += _entry_request_issues(index, entry)
    if issues:
        raise FhirRejected(issues)
    return bundle


def _entry_request_issues(index: int, entry) -> list[Issue]:
    path = f"Bundle.entry[{index}]"
    if entry.resource is None:
        return [Issue(f"{path}.resource", None, "missing resource", code="required")]
    issues = []
    kind = entry.resource.get_resource_type()
    if kind != "Observation":
        issues.append(
            Issue(
                f"{path}.resource.resourceType",
                kind,
                "unsupported resource: only Observation can be posted",
                code="not-supported",
            )
        )
    request = entry.request
    if request is None:
        issues.append(
            Issue(f"{path}.request", None, "missing request", code="required")
        )
    elif request.method != "POST" or request.url.split("?")[0] != "Observation":
        issues.append(
            Issue(
                f"{path}.request",
                f"{request.method} {request.url}",
                "unsupported request: use method POST and url Observation",
                code="not-supported",
            )
        )
    return issues


def _existing_keys(entries: list[MappedEntry]) -> set[tuple]:
    """Return (device, parameter, time) of readings stored before this request."""
    keys = {
        (
            item.reading["device"],
            item.reading["parameter"],
            datetime.fromisoformat(item.reading["timestamp"]),
        )
        for entry in entries
        for item in entry.readings
    }
    if not keys:
        return set()
    stored = Observation.objects.filter(
        device__in={key[0] for key in keys},
        parameter__in={key[1] for key in keys},
        observed_at__in={key[2] for key in keys},
    ).values_list("device", "parameter", "observed_at")
    return keys & set(stored)


def _entry_status(entry: MappedEntry, existing: set[tuple]) -> str:
    keys = {
        (
            item.reading["device"],
            item.reading["parameter"],
            datetime.fromisoformat(item.reading["timestamp"]),
        )
        for item in entry.readings
    }
    return "201 Created" if keys - existing else "200 OK"


def _store(entries: list[MappedEntry]) -> list[str]:
    """Store all readings in one ingest call; return each entry's status line.

    Raises ``FhirRejected`` with ingest's errors translated to FHIR paths.
    """
    mapped = [item for entry in entries for item in entry.readings]
    existing = _existing_keys(entries)
    if mapped:
        try:
            ingest([item.reading for item in mapped], Source.DEVICE)
        except IngestError as error:
            raise FhirRejected(issues_from_ingest(error.errors, mapped)) from error
    return [_entry_status(entry, existing) for entry in entries]


def _entry_outcome(entry: MappedEntry, status: str) -> dict:
    if entry.absent and not entry.readings:
        text = "nothing stored: " + "; ".join(entry.absent)
    elif status == "200 OK":
        text = "already stored: nothing new"
    else:
        text = f"stored {len(entry.readings)} reading(s)"
        if entry.absent:
            text += "; not stored: " + "; ".join(entry.absent)
    return operation_outcome(
        [Issue(entry.path, None, text, code="informational", severity="information")]
    )


def _map_all(resources: list, paths: list[str], device: DeviceToken):
    entries, issues = [], []
    for resource, path in zip(resources, paths, strict=True):
        try:
            entries.append(map_observation(resource, path, device.name))
        except FhirRejected as rejected:
            issues += rejected.issues
    if issues:
        raise FhirRejected(issues)
    return entries


@csrf_exempt
@require_POST
def observation_create(request):
    """Store one vital-signs Observation (FHIR create)."""
    device = _authenticate(request)
    if isinstance(device, JsonResponse):
        return device
    try:
        observation = parse_observation(_read_json(request, "Observation"))
        entries = _map_all([observation], ["Observation"], device)
        status = _store(entries)[0]
    except FhirRejected as rejected:
        logger.info(
            "FHIR Observation from device token %s rejected: %s issue(s), first %s",
            device.pk,
            len(rejected.issues),
            rejected.issues[0].expression,
        )
        return _rejection(400, rejected.issues)
    return _fhir_response(_entry_outcome(entries[0], status), int(status.split()[0]))


@csrf_exempt
@require_POST
def transaction(request):
    """Store a transaction Bundle of vital-signs Observations, all or nothing."""
    device = _authenticate(request)
    if isinstance(device, JsonResponse):
        return device
    try:
        bundle = parse_transaction(_read_json(request, "Bundle"))
        paths = [f"Bundle.entry[{i}].resource" for i in range(len(bundle.entry))]
        resources = [entry.resource for entry in bundle.entry]
        entries = _map_all(resources, paths, device)
        statuses = _store(entries)
    except FhirRejected as rejected:
        logger.info(
            "FHIR transaction from device token %s rejected: %s issue(s), first %s",
            device.pk,
            len(rejected.issues),
            rejected.issues[0].expression,
        )
        return _rejection(400, rejected.issues)
    response = {
        "resourceType": "Bundle",
        "type": "transaction-response",
        "entry": [
            {
                "response": {
                    "status": status,
                    "outcome": _entry_outcome(entry, status),
                }
            }
            for entry, status in zip(entries, statuses, strict=True)
        ],
    }
    return _fhir_response(response, 200)
