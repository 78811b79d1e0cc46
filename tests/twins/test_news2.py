"""NEWS2 against the published chart: every row of news2-cases.csv.

The CSV holds hand-entered cases on both sides of every band edge of every
parameter and every risk-band boundary (RCP NEWS2 Chart 1 and Chart 4).
"""

import csv
from pathlib import Path

import pytest

from twins import news2

CASES_FILE = Path(__file__).resolve().parent.parent / "data" / "news2-cases.csv"
SCORE_COLUMNS = {
    "resp_rate": "exp_score_resp_rate",
    "spo2": "exp_score_spo2",
    "air_or_oxygen": "exp_score_air_or_oxygen",
    "systolic_bp": "exp_score_systolic_bp",
    "pulse": "exp_score_pulse",
    "consciousness": "exp_score_consciousness",
    "temperature": "exp_score_temperature",
}


def load_cases():
    with open(CASES_FILE, newline="") as handle:
        return list(csv.DictReader(handle))


CASES = load_cases()


def inputs_from(row) -> news2.News2Inputs:
    return news2.News2Inputs(
        resp_rate=float(row["resp_rate_per_min"]),
        spo2=float(row["spo2_pct"]),
        supplemental_oxygen=row["on_supplemental_oxygen"] == "yes",
        systolic_bp=float(row["systolic_bp_mmhg"]),
        pulse=float(row["pulse_per_min"]),
        consciousness=row["consciousness_acvpu"],
        temperature=float(row["temperature_c"]),
        spo2_scale=int(row["spo2_scale"]),
    )


def test_case_file_has_every_row():
    assert len(CASES) == 76


@pytest.mark.parametrize("row", CASES, ids=[row["case_id"] for row in CASES])
def test_news2_published_case(row):
    result = news2.score(inputs_from(row))
    for name, column in SCORE_COLUMNS.items():
        assert result.scores[name] == int(row[column]), f"{name} in {row['case_id']}"
    assert result.aggregate == int(row["exp_aggregate"])
    assert result.any_single_parameter_3 == (row["exp_any_single_parameter_3"] == "yes")
    assert result.band == row["exp_risk_band"]
    assert result.partial is False


@pytest.mark.parametrize(
    ("value", "expected"),
    [(20.4, 0), (20.5, 2), (8.49, 3), (8.5, 1), (24.5, 3)],
)
def test_news2_resp_rate_rounds_half_up(value, expected):
    assert news2.score_resp_rate(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(38.04, 0), (38.05, 1), (35.04, 3), (35.05, 1), (39.05, 2), (37.9, 0)],
)
def test_news2_temperature_rounds_to_one_decimal(value, expected):
    assert news2.score_temperature(value) == expected


def test_news2_missing_parameters_marked_partial():
    result = news2.score(news2.News2Inputs(resp_rate=16, spo2=97, pulse=70))
    assert result.partial is True
    assert result.missing == (
        "air_or_oxygen",
        "systolic_bp",
        "consciousness",
        "temperature",
    )
    assert result.aggregate == 0


def test_news2_partial_score_still_raises_band():
    result = news2.score(news2.News2Inputs(resp_rate=30, spo2=90, pulse=140))
    assert result.partial is True
    assert result.aggregate == 9
    assert result.band == news2.Band.HIGH


def test_news2_scale2_high_spo2_unscored_without_oxygen_status():
    # On scale 2, SpO2 97 scores 0 on air but 3 on oxygen: unknown oxygen
    # must leave it unscored rather than guess.
    result = news2.score(news2.News2Inputs(spo2=97, spo2_scale=2))
    assert "spo2" not in result.scores
    assert "spo2" in result.missing


def test_news2_scale2_low_spo2_scored_without_oxygen_status():
    result = news2.score(news2.News2Inputs(spo2=84, spo2_scale=2))
    assert result.scores["spo2"] == 2


def test_news2_invalid_scale_rejected():
    with pytest.raises(ValueError, match="invalid SpO2 scale 3"):
        news2.score_spo2(95, 3, False)


def test_news2_invalid_consciousness_rejected():
    with pytest.raises(ValueError, match="invalid ACVPU level 'X'"):
        news2.score_consciousness("X")
