"""Read 1 Hz monitor numerics into a table, without Django.

The table has one row per second (index: seconds from the start) and the
columns ``heart_rate``, ``pulse_rate``, ``resp_rate`` and ``spo2``; NaN
means the monitor gave no value.
"""

from pathlib import Path

import pandas as pd

BIDMC_DIR = Path(__file__).resolve().parent / "data" / "bidmc"
# BIDMC column names keep PhysioNet's leading spaces, stripped on reading.
BIDMC_COLUMNS = {
    "HR": "heart_rate",
    "PULSE": "pulse_rate",
    "RESP": "resp_rate",
    "SpO2": "spo2",
}


def read_bidmc(path: Path) -> pd.DataFrame:
    """Read a BIDMC ``bidmc_NN_Numerics.csv`` file."""
    raw = pd.read_csv(path, index_col=0)
    raw.columns = [column.strip() for column in raw.columns]
    frame = raw[list(BIDMC_COLUMNS)].rename(columns=BIDMC_COLUMNS).astype(float)
    frame.index = raw["Time [s]"].astype(float).to_numpy()
    frame.attrs["record"] = path.stem.replace("_Numerics", "")
    return frame


def bidmc_paths(folder: Path = BIDMC_DIR) -> list[Path]:
    return sorted(Path(folder).glob("bidmc_*_Numerics.csv"))
