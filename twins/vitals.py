"""Vital-sign parameters, their units and the validation of incoming readings.

Each parameter has one canonical UCUM unit, the unit it is stored in. A
value outside the physiologically possible range is rejected. A value that is
possible but implausible for a monitored adult is stored and flagged as a
likely artefact, such as the 0 a monitor reports when a probe falls off. These
ranges are product choices for adult ICU monitoring, not clinical thresholds:
the clinical thresholds are the NEWS2 bands in ``twins.news2``.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import models
from django.utils import timezone
from django.utils.dateparse import parse_datetime

# Readings stamped further ahead than this are rejected, because a reading
# from the future would stay the twin's latest value until real time caught
# up with it. Ten seconds allows the drift of a network-synchronised clock.
MAX_CLOCK_SKEW = timedelta(seconds=10)
# Older readings are rejected: a device replaying its buffer sends hours,
# not weeks, and a year-0001 stamp is a device fault.
MAX_READING_AGE = timedelta(days=30)

ACVPU = ("A", "C", "V", "P", "U")
# Parameters whose numeric values are codes: ACVPU by index, oxygen 0 (air) or 1.
CODED_VALUES = {
    "consciousness": tuple(float(code) for code in range(len(ACVPU))),
    "supplemental_oxygen": (0.0, 1.0),
}


class Source(models.TextChoices):
    REPLAY = "replay", "replay of a recording"
    DEVICE = "device", "bedside device"
    NURSE = "nurse", "entered by a nurse"


@dataclass(frozen=True)
class Parameter:
    label: str
    unit: str
    possible: tuple[float, float]
    plausible: tuple[float, float]
    # Other accepted UCUM units and the function that converts to ``unit``.
    conversions: tuple[tuple[str, object], ...] = ()

    def accepted_units(self) -> list[str]:
        return [self.unit] + [unit for unit, _ in self.conversions]

    def to_canonical(self, value: float, unit: str) -> float:
        if unit == self.unit:
            return value
        return dict(self.conversions)[unit](value)


def _fahrenheit_to_celsius(value: float) -> float:
    return (value - 32.0) * 5.0 / 9.0


def _kilopascal_to_mmhg(value: float) -> float:
    return value * 7.500617


PARAMETERS: dict[str, Parameter] = {
    "heart_rate": Parameter("Heart rate", "/min", (0, 350), (20, 250)),
    "pulse_rate": Parameter("Pulse rate (pleth)", "/min", (0, 350), (20, 250)),
    "resp_rate": Parameter("Respiratory rate", "/min", (0, 200), (3, 60)),
    "spo2": Parameter("SpO2", "%", (0, 100), (50, 100)),
    "systolic_bp": Parameter(
        "Systolic blood pressure",
        "mm[Hg]",
        (0, 350),
        (40, 280),
        (("kPa", _kilopascal_to_mmhg),),
    ),
    "diastolic_bp": Parameter(
        "Diastolic blood pressure",
        "mm[Hg]",
        (0, 300),
        (15, 200),
        (("kPa", _kilopascal_to_mmhg),),
    ),
    "temperature": Parameter(
        "Body temperature",
        "Cel",
        (10, 50),
        (30, 43),
        (("[degF]", _fahrenheit_to_celsius),),
    ),
    # Coded parameters: consciousness as ACVPU index 0-4, oxygen as 0 or 1.
    "consciousness": Parameter("Consciousness (ACVPU)", "{ACVPU}", (0, 4), (0, 4)),
    "supplemental_oxygen": Parameter("Supplemental oxygen", "{yes/no}", (0, 1), (0, 1)),
}

REQUIRED_FIELDS = ("device", "timestamp", "parameter", "value", "unit")


@dataclass(frozen=True)
class FieldError:
    index: int
    field: str
    value: object
    message: str

    def as_dict(self) -> dict:
        return {
            "index": self.index,
            "field": self.field,
            "value": self.value,
            "message": self.message,
        }


@dataclass(frozen=True)
class Reading:
    """A validated reading in canonical units, not yet tied to a bed row."""

    bed_code: str | None
    patient_pseudonym: str | None
    device: str
    observed_at: datetime
    parameter: str
    value: float
    unit: str
    flagged: bool
    flag_reason: str


def _parse_value(index: int, name: str, raw: object) -> float | FieldError:
    if name == "consciousness" and isinstance(raw, str):
        if raw.upper() in ACVPU:
            return float(ACVPU.index(raw.upper()))
        return FieldError(
            index, "value", raw, "invalid ACVPU level: use one of A, C, V, P, U"
        )
    if name == "supplemental_oxygen" and isinstance(raw, bool):
        return float(raw)
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        return FieldError(index, "value", raw, "invalid value: must be a number")
    try:
        value = float(raw)
    except OverflowError:
        return FieldError(
            index, "value", str(raw)[:40], "invalid value: too large for a number"
        )
    if not math.isfinite(value):
        # NaN and infinity are echoed as text: JSON has no literal for them.
        return FieldError(index, "value", str(raw), "invalid value: must be finite")
    if name in CODED_VALUES and value not in CODED_VALUES[name]:
        allowed = ", ".join(f"{code:g}" for code in CODED_VALUES[name])
        return FieldError(
            index, "value", raw, f"invalid {name} code: use one of {allowed}"
        )
    return value


def _parse_timestamp(index: int, raw: object, now: datetime):
    try:
        parsed = parse_datetime(raw) if isinstance(raw, str) else None
    except ValueError:
        # Well-formed but impossible, such as 30 February or hour 25.
        parsed = None
    if parsed is None:
        return FieldError(
            index,
            "timestamp",
            raw,
            "invalid timestamp: use ISO 8601 with a time zone, "
            "e.g. 2026-01-01T10:00:00Z",
        )
    if timezone.is_naive(parsed):
        return FieldError(
            index,
            "timestamp",
            raw,
            "timestamp has no time zone: add Z or an offset such as +01:00",
        )
    if parsed > now + MAX_CLOCK_SKEW:
        return FieldError(
            index,
            "timestamp",
            raw,
            f"timestamp is more than {MAX_CLOCK_SKEW} ahead of the server clock",
        )
    if parsed < now - MAX_READING_AGE:
        return FieldError(
            index,
            "timestamp",
            raw,
            f"timestamp is more than {MAX_READING_AGE.days} days old",
        )
    return parsed


def parse_reading(index: int, raw: object, now: datetime) -> Reading | list[FieldError]:
    """Validate one reading from a JSON batch; return it or all its errors."""
    if not isinstance(raw, dict):
        return [FieldError(index, "reading", raw, "each reading must be an object")]
    errors = [
        FieldError(index, field, None, f"missing field {field}")
        for field in REQUIRED_FIELDS
        if field not in raw
    ]
    if "bed" not in raw and "patient" not in raw:
        errors.append(
            FieldError(index, "bed", None, "missing field bed: give bed or patient")
        )
    for field in ("bed", "patient", "device"):
        if field in raw and (
            not isinstance(raw[field], str)
            or not 0 < len(raw[field]) <= 100
            or not raw[field].isprintable()
        ):
            errors.append(
                FieldError(
                    index,
                    field,
                    raw[field],
                    f"invalid {field}: 1 to 100 printable characters",
                )
            )
    if errors:
        return errors

    name = raw["parameter"]
    spec = PARAMETERS.get(name) if isinstance(name, str) else None
    if spec is None:
        return [
            FieldError(
                index,
                "parameter",
                name,
                f"unknown parameter: use one of {', '.join(PARAMETERS)}",
            )
        ]
    if raw["unit"] not in spec.accepted_units():
        errors.append(
            FieldError(
                index,
                "unit",
                raw["unit"],
                f"invalid unit for {name}: use {' or '.join(spec.accepted_units())}",
            )
        )
    value = _parse_value(index, name, raw["value"])
    observed_at = _parse_timestamp(index, raw["timestamp"], now)
    errors += [item for item in (value, observed_at) if isinstance(item, FieldError)]
    if errors:
        return errors

    value = spec.to_canonical(value, raw["unit"])
    low, high = spec.possible
    if not low <= value <= high:
        return [
            FieldError(
                index,
                "value",
                raw["value"],
                f"impossible {name}: must be from {low:g} to {high:g} {spec.unit}",
            )
        ]
    low, high = spec.plausible
    flagged = not low <= value <= high
    reason = f"outside plausible {low:g}-{high:g} {spec.unit}" if flagged else ""
    return Reading(
        bed_code=raw.get("bed"),
        patient_pseudonym=raw.get("patient"),
        device=raw["device"],
        observed_at=observed_at,
        parameter=name,
        value=value,
        unit=spec.unit,
        flagged=flagged,
        flag_reason=reason,
    )
