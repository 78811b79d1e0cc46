"""The twin's state: latest value per parameter and the NEWS2 score from it."""

from datetime import datetime

from twins import news2
from twins.vitals import ACVPU


def merge_latest(
    latest: dict,
    parameter: str,
    value: float,
    observed_at: datetime,
    flagged: bool,
    flag_reason: str,
) -> bool:
    """Record a reading in ``latest`` if it is newer; return whether it was.

    Readings arrive out of order (device buffers, retries), so an older
    reading is stored in the database but never replaces a newer one here.
    """
    current = latest.get(parameter)
    at = observed_at.isoformat()
    if current is not None and datetime.fromisoformat(current["at"]) >= observed_at:
        return False
    latest[parameter] = {
        "value": value,
        "at": at,
        "flagged": flagged,
        "flag_reason": flag_reason,
    }
    return True


def _usable(latest: dict, parameter: str) -> float | None:
    # A flagged newest value is a likely artefact, and the value before it is
    # no longer current, so the parameter counts as missing for the score.
    entry = latest.get(parameter)
    if entry is None or entry["flagged"]:
        return None
    return entry["value"]


def news2_inputs(latest: dict, spo2_scale: int) -> news2.News2Inputs:
    pulse = _usable(latest, "heart_rate")
    if pulse is None:
        pulse = _usable(latest, "pulse_rate")
    consciousness = _usable(latest, "consciousness")
    oxygen = _usable(latest, "supplemental_oxygen")
    return news2.News2Inputs(
        resp_rate=_usable(latest, "resp_rate"),
        spo2=_usable(latest, "spo2"),
        supplemental_oxygen=None if oxygen is None else bool(oxygen),
        systolic_bp=_usable(latest, "systolic_bp"),
        pulse=pulse,
        consciousness=None if consciousness is None else ACVPU[int(consciousness)],
        temperature=_usable(latest, "temperature"),
        spo2_scale=spo2_scale,
    )


def score_twin(latest: dict, spo2_scale: int) -> dict:
    return news2.score(news2_inputs(latest, spo2_scale)).as_dict()
