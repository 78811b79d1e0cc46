"""NEWS2, the National Early Warning Score 2 (Royal College of Physicians, 2017).

Source: Royal College of Physicians. National Early Warning Score (NEWS) 2:
Standardising the assessment of acute-illness severity in the NHS. London:
RCP, 2017, Chart 1 (scoring) and Chart 4 (clinical response). The RCP requires
acknowledgement. This module implements the scoring logic, not the chart.

The chart defines whole numbers for respiration rate, SpO2, systolic blood
pressure and pulse, and one decimal for temperature. Monitors report
fractions (per-minute means), so values are rounded half up to the chart's
resolution before scoring: 20.5 breaths/min scores as 21, 38.05 °C as 38.1.

A score needs all seven parameters. With any missing the result is marked
partial and lists what is missing: a partial score is a lower bound, never
a reassurance.
"""

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

PARAMETER_ORDER = (
    "resp_rate",
    "spo2",
    "air_or_oxygen",
    "systolic_bp",
    "pulse",
    "consciousness",
    "temperature",
)

ACVPU_LEVELS = ("A", "C", "V", "P", "U")


class Band:
    LOW = "low"
    LOW_MEDIUM = "low-medium"
    MEDIUM = "medium"
    HIGH = "high"


@dataclass(frozen=True)
class News2Inputs:
    """NEWS2 inputs; ``None`` means the parameter was not measured."""

    resp_rate: float | None = None
    spo2: float | None = None
    supplemental_oxygen: bool | None = None
    systolic_bp: float | None = None
    pulse: float | None = None
    consciousness: str | None = None
    temperature: float | None = None
    spo2_scale: int = 1


@dataclass(frozen=True)
class News2Result:
    scores: dict[str, int]
    aggregate: int
    band: str
    any_single_parameter_3: bool
    partial: bool
    missing: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict:
        return {
            "scores": self.scores,
            "aggregate": self.aggregate,
            "band": self.band,
            "any_single_parameter_3": self.any_single_parameter_3,
            "partial": self.partial,
            "missing": list(self.missing),
        }


def _round(value: float, places: int) -> Decimal:
    quantum = Decimal(1).scaleb(-places)
    return Decimal(str(value)).quantize(quantum, rounding=ROUND_HALF_UP)


def score_resp_rate(rate: float) -> int:
    rate = _round(rate, 0)
    if rate <= 8:
        return 3
    if rate <= 11:
        return 1
    if rate <= 20:
        return 0
    if rate <= 24:
        return 2
    return 3


def score_spo2(spo2: float, scale: int, on_oxygen: bool) -> int:
    spo2 = _round(spo2, 0)
    if scale == 1:
        # Scale 1 never penalises high saturation; oxygen scores on its own row.
        if spo2 <= 91:
            return 3
        if spo2 <= 93:
            return 2
        if spo2 <= 95:
            return 1
        return 0
    if scale != 2:
        raise ValueError(f"invalid SpO2 scale {scale!r}: use 1 or 2")
    if spo2 <= 83:
        return 3
    if spo2 <= 85:
        return 2
    if spo2 <= 87:
        return 1
    if spo2 <= 92 or not on_oxygen:
        return 0
    # Scale 2 on oxygen: 93 or more means over-oxygenation for a patient
    # whose prescribed target is 88-92 %.
    if spo2 <= 94:
        return 1
    if spo2 <= 96:
        return 2
    return 3


def score_air_or_oxygen(on_oxygen: bool) -> int:
    return 2 if on_oxygen else 0


def score_systolic_bp(pressure: float) -> int:
    pressure = _round(pressure, 0)
    if pressure <= 90:
        return 3
    if pressure <= 100:
        return 2
    if pressure <= 110:
        return 1
    if pressure <= 219:
        return 0
    return 3


def score_pulse(pulse: float) -> int:
    pulse = _round(pulse, 0)
    if pulse <= 40:
        return 3
    if pulse <= 50:
        return 1
    if pulse <= 90:
        return 0
    if pulse <= 110:
        return 1
    if pulse <= 130:
        return 2
    return 3


def score_consciousness(level: str) -> int:
    if level not in ACVPU_LEVELS:
        raise ValueError(f"invalid ACVPU level {level!r}: use one of A, C, V, P, U")
    return 0 if level == "A" else 3


def score_temperature(celsius: float) -> int:
    celsius = _round(celsius, 1)
    if celsius <= Decimal("35.0"):
        return 3
    if celsius <= Decimal("36.0"):
        return 1
    if celsius <= Decimal("38.0"):
        return 0
    if celsius <= Decimal("39.0"):
        return 1
    return 2


def risk_band(aggregate: int, any_single_parameter_3: bool) -> str:
    """Clinical risk from RCP Chart 4; the aggregate takes precedence.

    A red score (one parameter at 3) raises a low aggregate to low-medium but
    never lifts 5-6 to high.
    """
    if aggregate >= 7:
        return Band.HIGH
    if aggregate >= 5:
        return Band.MEDIUM
    if any_single_parameter_3:
        return Band.LOW_MEDIUM
    return Band.LOW


def score(inputs: News2Inputs) -> News2Result:
    """Score every parameter present and mark the result partial if any is not."""
    scores: dict[str, int] = {}
    if inputs.resp_rate is not None:
        scores["resp_rate"] = score_resp_rate(inputs.resp_rate)
    if inputs.spo2 is not None:
        # Scale 2 needs to know about oxygen to score high saturations; scale 1
        # does not, so a scale 1 SpO2 is scored even when oxygen is unknown.
        if inputs.spo2_scale == 1 or inputs.supplemental_oxygen is not None:
            scores["spo2"] = score_spo2(
                inputs.spo2, inputs.spo2_scale, bool(inputs.supplemental_oxygen)
            )
        elif _round(inputs.spo2, 0) <= 92:
            scores["spo2"] = score_spo2(inputs.spo2, 2, False)
    if inputs.supplemental_oxygen is not None:
        scores["air_or_oxygen"] = score_air_or_oxygen(inputs.supplemental_oxygen)
    if inputs.systolic_bp is not None:
        scores["systolic_bp"] = score_systolic_bp(inputs.systolic_bp)
    if inputs.pulse is not None:
        scores["pulse"] = score_pulse(inputs.pulse)
    if inputs.consciousness is not None:
        scores["consciousness"] = score_consciousness(inputs.consciousness)
    if inputs.temperature is not None:
        scores["temperature"] = score_temperature(inputs.temperature)

    missing = tuple(name for name in PARAMETER_ORDER if name not in scores)
    aggregate = sum(scores.values())
    red = any(value == 3 for value in scores.values())
    return News2Result(
        scores=scores,
        aggregate=aggregate,
        band=risk_band(aggregate, red),
        any_single_parameter_3=red,
        partial=bool(missing),
        missing=missing,
    )
