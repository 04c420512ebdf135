"""AnalysisSettings: defaults, per-camera overrides, and clear errors on bad ones."""

from __future__ import annotations

import pytest

from camwatch.analysis import AnalysisSettings


def test_overrides_apply_and_keep_other_defaults() -> None:
    s = AnalysisSettings.from_thresholds({"noise_sigma": 9, "black_luma": 20.5})
    assert s.noise_sigma == 9 and s.black_luma == 20.5
    assert s.defocus_pct == AnalysisSettings().defocus_pct
    assert AnalysisSettings.from_thresholds({}) == AnalysisSettings()


def test_unknown_key_names_the_key() -> None:
    with pytest.raises(ValueError, match="'noise_sigmaa'"):
        AnalysisSettings.from_thresholds({"noise_sigmaa": 3})


@pytest.mark.parametrize(
    ("key", "value"),
    [("noise_sigma", "high"), ("noise_sigma", True), ("defocus_pct", 150),
     ("motion_alpha", 0.0), ("black_luma", float("nan")), ("frozen_mad", -1)],
)  # fmt: skip
def test_bad_values_name_the_key(key: str, value: object) -> None:
    with pytest.raises(ValueError, match=repr(key)):
        AnalysisSettings.from_thresholds({key: value})  # type: ignore[dict-item]


def test_baseline_samples_is_a_count() -> None:
    assert AnalysisSettings(baseline_samples=12.4).learn_samples == 12
