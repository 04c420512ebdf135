"""The frame hook that runs in the decode thread: privacy masks first, then
the image analyzers. One hook (and analyzer) per camera."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from typing import Any

from .analysis.analyzer import AnalysisResult, CameraAnalyzer
from .analysis.baseline import Baseline
from .analysis.settings import AnalysisSettings
from .config import CameraConfig
from .state import FrameSample

ANALYSIS_KEYS = frozenset(f.name for f in dataclasses.fields(AnalysisSettings))


def analysis_thresholds(thresholds: Mapping[str, float]) -> dict[str, float]:
    """The part of a camera's `thresholds` table that tunes the analyzers
    (the rest belongs to the rule engine)."""
    return {k: v for k, v in thresholds.items() if k in ANALYSIS_KEYS}


class AnalysisHook:
    """Callable frame hook owning one camera's analyzer.

    The analyzer runs in a decode thread while baseline capture comes from the
    event loop; a lock keeps them from interleaving (both are sub-millisecond).
    """

    def __init__(self, cfg: CameraConfig, baseline: Baseline | None = None) -> None:
        settings = AnalysisSettings.from_thresholds(analysis_thresholds(cfg.thresholds))
        self.analyzer = CameraAnalyzer(
            settings, cfg.privacy_masks, cfg.motion_zones, cfg.motion_masks, baseline
        )
        self._lock = threading.Lock()

    def __call__(self, sample: FrameSample) -> tuple[FrameSample, AnalysisResult]:
        with self._lock:
            a = self.analyzer
            masked = dataclasses.replace(
                sample,
                gray=a.mask(sample.gray),  # type: ignore[arg-type]
                rgb=None if sample.rgb is None else a.mask(sample.rgb),  # type: ignore[arg-type]
            )
            return masked, a.analyze(masked)

    def capture_baseline(self) -> Baseline:
        with self._lock:
            return self.analyzer.capture_baseline()

    @property
    def baseline(self) -> Baseline | None:
        return self.analyzer.baseline


def frame_hook_for(cfg: Any, baseline: Baseline | None = None) -> AnalysisHook:
    return AnalysisHook(cfg, baseline)
