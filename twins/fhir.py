"""FHIR R4 vital-signs Observations mapped to MedTwin readings.

fhir.resources (8.3.0) has no R4 model, so its R4B package, whose Observation
and Bundle have the same structure, checks the structure: cardinality, data
types, choice types, unknown elements and the dateTime syntax. It checks no
code bindings, so this module checks the vital-signs profile of FHIR R4
(4.0.1, http://hl7.org/fhir/R4/observation-vitalsigns.html) itself:

- ``status`` from the required code list; only final, amended, corrected and
  preliminary results are stored.
- ``category`` contains observation-category ``vital-signs``.
- ``code`` contains a LOINC code from ``LOINC_PARAMETERS`` or the blood
  pressure panel 85354-9 with components 8480-6 and 8462-4.
- ``valueQuantity`` has the UCUM system and a unit the parameter accepts.
  ``kPa`` for blood pressure lies outside the R4 "Vital Signs Units" value
  set; it is accepted as a deliberate extension because it is a valid UCUM
  pressure unit with an exact conversion to mm[Hg].
- vs-1: ``effectiveDateTime`` must be given. MedTwin stores readings to the
  second, so it also needs a time and a time zone, which is stricter than
  vs-1's precision to the day.
- vs-2 and vs-3: a value or a ``dataAbsentReason``. A ``dataAbsentReason``
  stores nothing and is not an error.

Subject: ``Patient/<pseudonym>`` for an admitted patient, or, for a device
that knows only its bed, a logical reference ``{"type": "Patient",
"identifier": {"system": "urn:medtwin:bed", "value": "<bed code>"}}`` naming
the patient in that bed. Device: ``Device/<name>`` if given, else the name of
the device token that sent the request.
"""

from dataclasses import dataclass, field
from datetime import datetime

from fhir.resources.R4B.observation import Observation
from pydantic import ValidationError

from twins.vitals import PARAMETERS, FieldError

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
BED_IDENTIFIER_SYSTEM = "urn:medtwin:bed"

STORED_STATUSES = ("final", "amended", "corrected", "preliminary")
# Valid R4 codes that are rejected: nothing to store yet, or withdrawn.
REJECTED_STATUSES = ("registered", "cancelled", "entered-in-error", "unknown")

LOINC_PARAMETERS = {
    "8867-4": "heart_rate",
    "9279-1": "resp_rate",
    "2708-6": "spo2",
    "59408-5": "spo2",
    "8310-5": "temperature",
}
BP_PANEL = "85354-9"
BP_COMPONENTS = {"8480-6": "systolic_bp", "8462-4": "diastolic_bp"}


@dataclass(frozen=True)
class Issue:
    """One OperationOutcome issue: the element, its value and what is wrong."""

    expression: str
    value: object
    message: str
    code: str = "invalid"
    severity: str = "error"

    def as_fhir(self) -> dict:
        diagnostics = self.message
        if self.value is not None:
            diagnostics = f"{self.message} (got {self.value!r})"
        return {
            "severity": self.severity,
            "code": self.code,
            "diagnostics": diagnostics,
            "expression": [self.expression],
        }


class FhirRejected(Exception):
    """The request is invalid; ``issues`` lists every problem found."""

    def __init__(self, issues: list[Issue]):
        self.issues = issues
        first = issues[0]
        super().__init__(f"{first.expression}: {first.message}")


@dataclass
class MappedReading:
    """A reading dict for ``twins.ingest`` and the FHIR elements it came from."""

    reading: dict
    resource_path: str
    quantity_path: str


@dataclass
class MappedEntry:
    """The readings of one Observation; empty for a ``dataAbsentReason``."""

    path: str
    readings: list[MappedReading] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)


def operation_outcome(issues: list[Issue]) -> dict:
    return {
        "resourceType": "OperationOutcome",
        "issue": [issue.as_fhir() for issue in issues],
    }


def structure_issues(error: ValidationError, root: str) -> list[Issue]:
    issues = []
    for item in error.errors():
        path = root
        for part in item["loc"]:
            if isinstance(part, int):
                path += f"[{part}]"
            elif part == "resource_type":
                path += ".resourceType"
            else:
                path += f".{part}"
        message = item["msg"].removeprefix("Value error, ")
        issues.append(Issue(path, item.get("input"), message, code="structure"))
    return issues


def parse_observation(payload: object) -> Observation:
    """Check the structure of a single Observation body."""
    if not isinstance(payload, dict) or payload.get("resourceType") != "Observation":
        kind = payload.get("resourceType") if isinstance(payload, dict) else None
        raise FhirRejected(
            [Issue("Observation", kind, "body must be an Observation resource")]
        )
    try:
        return Observation.model_validate(payload)
    except ValidationError as error:
        raise FhirRejected(structure_issues(error, "Observation")) from error


def _check_status(observation: Observation, path: str) -> list[Issue]:
    status = observation.status
    if status in STORED_STATUSES:
        return []
    if status in REJECTED_STATUSES:
        message = f"status {status} is not stored: send one of " + ", ".join(
            STORED_STATUSES
        )
        return [Issue(f"{path}.status", status, message, code="business-rule")]
    message = "invalid status code: use one of " + ", ".join(
        STORED_STATUSES + REJECTED_STATUSES
    )
    return [Issue(f"{path}.status", status, message, code="code-invalid")]


def _check_category(observation: Observation, path: str) -> list[Issue]:
    for concept in observation.category or []:
        for coding in concept.coding or []:
            if coding.system == CATEGORY_SYSTEM and coding.code == "vital-signs":
                return []
    found = [
        f"{coding.system}|{coding.code}"
        for concept in observation.category or []
        for coding in concept.coding or []
    ]
    return [
        Issue(
            f"{path}.category",
            found or None,
            f"missing vital-signs category: add coding {CATEGORY_SYSTEM}|vital-signs",
            code="required",
        )
    ]


def _loinc_codes(concept) -> list[str]:
    return [
        coding.code
        for coding in (concept.coding if concept else None) or []
        if coding.system == LOINC and coding.code
    ]


def _subject_fields(observation: Observation, path: str) -> dict | Issue:
    subject = observation.subject
    if subject is None:
        return Issue(f"{path}.subject", None, "missing subject", code="required")
    if subject.reference:
        kind, _, pseudonym = subject.reference.partition("/")
        if kind == "Patient" and pseudonym:
            return {"patient": pseudonym}
        return Issue(
            f"{path}.subject.reference",
            subject.reference,
            "invalid subject: use Patient/<pseudonym>",
        )
    identifier = subject.identifier
    if identifier is not None and identifier.system == BED_IDENTIFIER_SYSTEM:
        return {"bed": identifier.value}
    return Issue(
        f"{path}.subject",
        None,
        "invalid subject: give reference Patient/<pseudonym> or an identifier "
        f"with system {BED_IDENTIFIER_SYSTEM} and the bed code",
    )


def _effective_time(observation: Observation, path: str) -> datetime | Issue:
    value = observation.effectiveDateTime
    if value is None:
        other = [
            name
            for name in ("effectivePeriod", "effectiveInstant", "effectiveTiming")
            if getattr(observation, name, None) is not None
        ]
        message = "missing effectiveDateTime: a dateTime with time and time zone"
        if other:
            message = f"unsupported {other[0]}: send effectiveDateTime instead"
        return Issue(f"{path}.effective", None, message, code="required")
    if not isinstance(value, datetime) or value.tzinfo is None:
        return Issue(
            f"{path}.effectiveDateTime",
            str(value),
            "effectiveDateTime needs a time and a time zone, e.g. 2026-01-01T10:00:00Z",
        )
    return value


def _other_value_name(element) -> str | None:
    for name in type(element).model_fields:
        if (
            name.startswith("value")
            and name != "valueQuantity"
            and not name.endswith("__ext")
            and getattr(element, name) is not None
        ):
            return name
    return None


def _quantity(element, path: str, parameter: str) -> tuple[float, str] | str | Issue:
    """Return (value, unit), the dataAbsentReason text, or the issue found."""
    other = _other_value_name(element)
    if other is not None:
        return Issue(
            f"{path}.{other}",
            None,
            f"unsupported {other}: send valueQuantity",
            code="not-supported",
        )
    quantity = element.valueQuantity
    if quantity is None:
        reason = element.dataAbsentReason
        if reason is not None:
            codes = [coding.code for coding in reason.coding or [] if coding.code]
            return ", ".join(codes) or reason.text or "unspecified"
        return Issue(
            f"{path}.value[x]",
            None,
            "missing value: give valueQuantity or dataAbsentReason",
            code="required",
        )
    accepted = PARAMETERS[parameter].accepted_units()
    if quantity.value is None:
        return Issue(
            f"{path}.valueQuantity.value", None, "missing value", code="required"
        )
    if quantity.system != UCUM:
        return Issue(
            f"{path}.valueQuantity.system",
            quantity.system,
            f"invalid unit system: use {UCUM}",
        )
    if quantity.code not in accepted:
        return Issue(
            f"{path}.valueQuantity.code",
            quantity.code,
            f"invalid UCUM unit for {parameter}: use {' or '.join(accepted)}",
            code="code-invalid",
        )
    return float(quantity.value), quantity.code


def _parameter_elements(observation: Observation, path: str):
    """Return [(element, element path, parameter)] or the issue with the code."""
    codes = _loinc_codes(observation.code)
    for code in codes:
        if code in LOINC_PARAMETERS:
            return [(observation, path, LOINC_PARAMETERS[code])]
    if BP_PANEL not in codes:
        allowed = ", ".join([*LOINC_PARAMETERS, BP_PANEL])
        return Issue(
            f"{path}.code.coding",
            codes or None,
            f"unsupported vital sign: use a LOINC code from {allowed}",
            code="code-invalid",
        )
    if observation.valueQuantity is not None:
        return Issue(
            f"{path}.valueQuantity",
            None,
            "a blood pressure panel has no value: send the components",
        )
    elements = []
    for index, component in enumerate(observation.component or []):
        for code in _loinc_codes(component.code):
            if code in BP_COMPONENTS:
                elements.append(
                    (component, f"{path}.component[{index}]", BP_COMPONENTS[code])
                )
                break
    if not elements and observation.dataAbsentReason is None:
        return Issue(
            f"{path}.component",
            None,
            "missing blood pressure component: give 8480-6 or 8462-4",
            code="required",
        )
    return elements


def map_observation(
    observation: Observation, path: str, default_device: str
) -> MappedEntry:
    """Check one Observation against the profile and map it to readings.

    Raises ``FhirRejected`` with every issue found in it.
    """
    issues = _check_status(observation, path) + _check_category(observation, path)
    subject = _subject_fields(observation, path)
    effective = _effective_time(observation, path)
    elements = _parameter_elements(observation, path)
    issues += [
        item for item in (subject, effective, elements) if isinstance(item, Issue)
    ]
    device = default_device
    if observation.device is not None and observation.device.reference:
        device = observation.device.reference.removeprefix("Device/")
    entry = MappedEntry(path)
    if issues:
        raise FhirRejected(issues)
    for element, element_path, parameter in elements:
        quantity = _quantity(element, element_path, parameter)
        if isinstance(quantity, Issue):
            issues.append(quantity)
        elif isinstance(quantity, str):
            entry.absent.append(f"{element_path}: {parameter} absent ({quantity})")
        else:
            reading = {
                **subject,
                "device": device,
                "timestamp": effective.isoformat(),
                "parameter": parameter,
                "value": quantity[0],
                "unit": quantity[1],
            }
            entry.readings.append(MappedReading(reading, path, element_path))
    if not elements:
        entry.absent.append(f"{path}: blood pressure absent")
    if issues:
        raise FhirRejected(issues)
    return entry


# Reading fields that ingest validates, and the FHIR element each came from.
_ELEMENT_OF_FIELD = {
    "value": ("quantity", "valueQuantity.value"),
    "unit": ("quantity", "valueQuantity.code"),
    "timestamp": ("resource", "effectiveDateTime"),
    "patient": ("resource", "subject.reference"),
    "bed": ("resource", "subject.identifier.value"),
    "device": ("resource", "device.reference"),
    "parameter": ("quantity", "code"),
}


def issues_from_ingest(errors: list[FieldError], mapped: list[MappedReading]):
    """Translate ingest's errors, indexed by reading, to FHIR element paths."""
    issues = []
    for error in errors:
        if not 0 <= error.index < len(mapped):
            issues.append(Issue("Bundle.entry", error.value, error.message))
            continue
        source = mapped[error.index]
        base, element = _ELEMENT_OF_FIELD.get(error.field, ("resource", error.field))
        root = source.quantity_path if base == "quantity" else source.resource_path
        issues.append(Issue(f"{root}.{element}", error.value, error.message))
    return issues
