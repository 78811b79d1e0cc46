"""Forecast each vital 60 s ahead with a prediction interval, if it helps.

The model is simple exponential smoothing (Hyndman RJ, Athanasopoulos G.
Forecasting: Principles and Practice, 3rd ed., OTexts 2021, section 8.1):
the forecast for any horizon is the smoothed level. Its smoothing weight
is the one of ``ALPHAS`` whose 60 s ahead forecasts had the smallest mean
absolute error over the fitting window. The 90 % prediction interval is the
forecast plus or minus the 90th percentile of those in-window absolute
errors, so it makes no normality assumption, widened by half the monitor's
resolution because the monitor reports whole units and the forecast does
not.

The horizon is 60 s because the bundled recordings last 8 minutes: a
4-minute fitting window leaves 3 minutes of forecast origins per record.
Persistence (the last value carried forward) is the baseline; a forecast is
shown for a parameter only if its backtest beats persistence
(``forecast_is_shown``).
"""

import functools
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from twins.numerics import bidmc_paths, read_bidmc

logger = logging.getLogger(__name__)

HORIZON_SECONDS = 60
FIT_WINDOW_SECONDS = 240
BACKTEST_STEP_SECONDS = 10
ALPHAS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0)
NOMINAL_COVERAGE = 0.90
# The monitors behind the bundled numerics report whole beats, breaths and
# per cent.
RESOLUTION = 1.0
# Shown only if the model's MAE is at most this share of persistence's, and
# its interval covers at least this much of what happened.
MAX_MAE_RATIO = 0.95
MIN_COVERAGE = NOMINAL_COVERAGE - 0.10
PARAMETERS = ("heart_rate", "pulse_rate", "resp_rate", "spo2")


@dataclass(frozen=True)
class FittedModel:
    alpha: float
    level: float
    half_width: float


@dataclass(frozen=True)
class Forecast:
    value: float
    low: float
    high: float


@dataclass(frozen=True)
class BacktestResult:
    parameter: str
    forecasts: int
    mae_model: float
    mae_persistence: float
    coverage: float

    @property
    def mae_ratio(self) -> float:
        return self.mae_model / self.mae_persistence

    @property
    def shown(self) -> bool:
        return self.mae_ratio <= MAX_MAE_RATIO and self.coverage >= MIN_COVERAGE


def _levels(values: np.ndarray, alpha: float) -> np.ndarray:
    """Return the smoothed level after each sample; NaN samples are skipped."""
    series = pd.Series(values).ewm(alpha=alpha, adjust=False, ignore_na=True)
    return series.mean().to_numpy()


def fit(values: np.ndarray, horizon: int = HORIZON_SECONDS) -> FittedModel | None:
    """Fit on a 1 Hz window; return None if it has too few values."""
    values = np.asarray(values, dtype=float)
    if np.count_nonzero(~np.isnan(values)) < 2 * horizon:
        return None
    best = None
    for alpha in ALPHAS:
        levels = _levels(values, alpha)
        errors = values[horizon:] - levels[:-horizon]
        errors = errors[~np.isnan(errors)]
        if errors.size < horizon:
            continue
        mae = float(np.mean(np.abs(errors)))
        if best is None or mae < best[0]:
            best = (mae, alpha, levels[-1], errors)
    if best is None:
        return None
    _, alpha, level, errors = best
    half_width = np.quantile(np.abs(errors), NOMINAL_COVERAGE) + RESOLUTION / 2
    return FittedModel(alpha, float(level), float(half_width))


def update(model: FittedModel, values: np.ndarray) -> FittedModel:
    """Return ``model`` with its level recomputed on a newer window."""
    level = _levels(np.asarray(values, dtype=float), model.alpha)[-1]
    return FittedModel(model.alpha, float(level), model.half_width)


def predict(model: FittedModel) -> Forecast:
    return Forecast(
        value=model.level,
        low=model.level - model.half_width,
        high=model.level + model.half_width,
    )


def _last_value(values: np.ndarray) -> float:
    present = values[~np.isnan(values)]
    return float(present[-1]) if present.size else np.nan


def backtest(series_list: list[np.ndarray], parameter: str) -> BacktestResult:
    """Refit at each origin on the window before it; score 60 s ahead."""
    model_errors, persistence_errors, covered = [], [], []
    for values in series_list:
        last_origin = len(values) - HORIZON_SECONDS
        for origin in range(FIT_WINDOW_SECONDS, last_origin, BACKTEST_STEP_SECONDS):
            actual = values[origin - 1 + HORIZON_SECONDS]
            model = fit(values[origin - FIT_WINDOW_SECONDS : origin])
            if model is None or np.isnan(actual):
                continue
            forecast = predict(model)
            model_errors.append(abs(actual - forecast.value))
            persistence_errors.append(abs(actual - _last_value(values[:origin])))
            covered.append(forecast.low <= actual <= forecast.high)
    if not model_errors:
        return BacktestResult(parameter, 0, np.nan, np.nan, np.nan)
    return BacktestResult(
        parameter=parameter,
        forecasts=len(model_errors),
        mae_model=float(np.mean(model_errors)),
        mae_persistence=float(np.nanmean(persistence_errors)),
        coverage=float(np.mean(covered)),
    )


def backtest_records(frames: list[pd.DataFrame]) -> dict[str, BacktestResult]:
    """Backtest every parameter over the given 1 Hz numerics tables."""
    results = {}
    for parameter in PARAMETERS:
        series = [
            frame[parameter].replace(0, np.nan).to_numpy(dtype=float)
            for frame in frames
            if parameter in frame.columns
        ]
        results[parameter] = backtest(series, parameter)
    return results


@functools.cache
def bundled_backtest() -> dict[str, BacktestResult]:
    """Backtest on the bundled BIDMC recordings, once per process."""
    results = backtest_records([read_bidmc(path) for path in bidmc_paths()])
    for result in results.values():
        logger.info(
            "forecast backtest %s: MAE ratio %.3f, coverage %.2f, shown %s",
            result.parameter,
            result.mae_ratio,
            result.coverage,
            result.shown,
        )
    return results


def forecast_is_shown(parameter: str) -> bool:
    """Return whether the 60 s forecast of ``parameter`` beat persistence."""
    result = bundled_backtest().get(parameter)
    return result is not None and result.forecasts > 0 and result.shown
