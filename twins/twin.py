"""The twin's state: latest value per parameter and the NEWS2 score from it."""

from datetime import datetime, timedelta

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


# Maximum age of a value that still counts in the score. Monitors send every
# second, so a monitored value minutes old means the signal is gone. Manual
# observations follow the RCP's minimum of 12-hourly observations for a
# NEWS2 of 0; older ones count as missing and the score as partial.
MONITORED_MAX_AGE = timedelta(minutes=5)
MANUAL_MAX_AGE = timedelta(hours=12)
MONITORED = {"heart_rate", "pulse_rate", "resp_rate", "spo2"}


def _usable(latest: dict, parameter: str, now: datetime | None) -> float | None:
    # A flagged newest value is a likely artefact, and the value before it is
    # no longer current, so the parameter counts as missing for the score.
    entry = latest.get(parameter)
    if entry is None or entry["flagged"]:
        return None
    if now is not None and "at" in entry:
        limit = MONITORED_MAX_AGE if parameter in MONITORED else MANUAL_MAX_AGE
        if datetime.fromisoformat(entry["at"]) < now - limit:
            return None
    return entry["value"]


def news2_inputs(
    latest: dict, spo2_scale: int, now: datetime | None = None
) -> news2.News2Inputs:
    """Build NEWS2 inputs from the twin's latest values.

    With ``now``, values too old to describe the patient at that time count
    as missing; without it, age is not checked.
    """
    pulse = _usable(latest, "heart_rate", now)
    if pulse is None:
        pulse = _usable(latest, "pulse_rate", now)
    consciousness = _usable(latest, "consciousness", now)
    oxygen = _usable(latest, "supplemental_oxygen", now)
    return news2.News2Inputs(
        resp_rate=_usable(latest, "resp_rate", now),
        spo2=_usable(latest, "spo2", now),
        supplemental_oxygen=None if oxygen is None else bool(oxygen),
        systolic_bp=_usable(latest, "systolic_bp", now),
        pulse=pulse,
        consciousness=None if consciousness is None else ACVPU[int(consciousness)],
        temperature=_usable(latest, "temperature", now),
        spo2_scale=spo2_scale,
    )


def score_twin(latest: dict, spo2_scale: int, now: datetime | None = None) -> dict:
    return news2.score(news2_inputs(latest, spo2_scale, now)).as_dict()
