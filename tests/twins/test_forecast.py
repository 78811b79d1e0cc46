"""60 s ahead forecasts: accuracy against persistence and interval coverage."""

import numpy as np
import pytest

from twins import forecast


def noisy_level_series(seed: int, seconds: int = 480) -> np.ndarray:
    # A slowly drifting true heart rate seen through beat-to-beat noise: the
    # case where smoothing should beat the last value carried forward.
    rng = np.random.default_rng(seed)
    level = 80 + np.cumsum(rng.normal(0, 0.05, seconds))
    return np.round(level + rng.normal(0, 3, seconds))


def random_walk_series(seed: int, seconds: int = 480) -> np.ndarray:
    # With no noise the last value is the best forecast there is.
    rng = np.random.default_rng(seed)
    return 80 + np.cumsum(rng.normal(0, 1.0, seconds))


def test_forecast_beats_persistence_on_noisy_level():
    series = [noisy_level_series(seed) for seed in range(6)]
    result = forecast.backtest(series, "heart_rate")
    assert result.forecasts == 6 * 18
    assert result.mae_ratio < 0.8
    assert 0.8 <= result.coverage <= 0.99
    assert result.shown


def test_forecast_not_shown_on_random_walk():
    series = [random_walk_series(seed) for seed in range(6)]
    result = forecast.backtest(series, "heart_rate")
    assert result.mae_ratio > forecast.MAX_MAE_RATIO
    assert not result.shown


def test_fit_needs_enough_values():
    values = np.full(240, np.nan)
    values[:100] = 80.0
    assert forecast.fit(values) is None


def test_interval_contains_forecast():
    model = forecast.fit(noisy_level_series(11)[:240])
    prediction = forecast.predict(model)
    assert prediction.low < prediction.value < prediction.high
    assert 75 < prediction.value < 85
    assert model.alpha < 0.5


def test_bundled_backtest_runs_on_real_data():
    results = forecast.bundled_backtest()
    assert set(results) == set(forecast.PARAMETERS)
    for parameter, result in results.items():
        assert result.forecasts > 100, parameter
        assert np.isfinite(result.mae_ratio), parameter
        assert 0 <= result.coverage <= 1, parameter
        assert forecast.forecast_is_shown(parameter) == result.shown


def test_unknown_parameter_not_shown():
    assert forecast.forecast_is_shown("temperature") is False


@pytest.mark.parametrize("alpha", [0.1, 1.0])
def test_levels_skip_missing_values(alpha):
    levels = forecast._levels(np.array([10.0, np.nan, 20.0]), alpha)
    assert levels[1] == 10.0
    assert levels[2] == pytest.approx(10.0 + alpha * 10.0)
