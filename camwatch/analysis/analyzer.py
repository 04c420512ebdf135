"""The per-camera orchestrator: one FrameSample in, every image check out.

One CameraAnalyzer per camera, called from a worker thread, never concurrently
for the same camera (it keeps work buffers and running state). Each call
returns a condition for every kind in KINDS, active or not, with its value and
threshold, plus the metrics the UI plots. Deterministic: the same samples in
the same order give the same results.

Day and night: a camera that switches between colour and mono (IR night
mode) sees another picture of the same place (other tones, other edges, other
noise), so it keeps one baseline per mode. On a switch the current baseline is
set aside and the other mode's is taken back, or learned anew the first time
(the relative checks wait meanwhile). Only the current one is persisted; a
restored baseline counts as a colour one when it has a usual chroma, as a mono
one otherwise.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..state import Condition, FrameSample
from . import covered as covered_mod
from . import exposure, focus, noise
from .baseline import Baseline, BaselineLearner, Features, build
from .conditions import KINDS, resolve
from .frame import GRID_COLS, GRID_ROWS, Layout, Masks, apply_mask, build_masks, prepare
from .frozen import FrozenDetector
from .motion import Motion, MotionDetector
from .moved import MoveEvidence, Reference, coarse_image, compare, moved
from .regions import HasPoints, rasterize
from .settings import AnalysisSettings

_SHARPNESS_WINDOW = 3  # samples the focus check takes the median of
# Chroma spread (levels) over which a frame is colour (under exposure.MONO_SPREAD: mono);
# a switch between the two (IR night mode) re-baselines motion like a light change.
_COLOUR_SPREAD = 6.0
_CAST = KINDS.index("color_cast")
# A sample teaches the baseline when nothing is wrong with it. A colour cast does
# not spoil a reference, and a camera whose normal view reads as one (a lawn) must
# still learn (its cast is then judged against that baseline).
_HARMLESS = frozenset({"color_cast"})


@dataclass(frozen=True, slots=True)
class AnalysisResult:
    conditions: tuple[Condition, ...]  # one per kind in KINDS order
    motion_level: float  # 0-100: % of watched pixels changed
    # bool (9, 16), row-major from the top-left. Left out of ==: comparing an
    # array is elementwise, and two states (which hold a result) must compare.
    motion_grid: np.ndarray = field(compare=False)
    sharpness: float  # focus score (scene-dependent; 0 for a flat image)
    sharpness_pct: float | None  # smoothed score as % of the baseline's
    noise_sigma: float  # luma levels
    luma_mean: float
    contrast: float  # luma levels between 2nd and 98th percentile
    clipped: float  # % of pixels clipped white (>= 250)
    # (dx, dy) px the scene moved vs the reference (see moved.MoveEvidence), once learned
    shift: tuple[float, float] | None
    baseline_ready: bool
    textured: float = 0.0  # % of grid cells with texture (covered check)
    entropy: float = 0.0  # histogram entropy, bits
    color_offset: float | None = None  # chroma offset (colour cast check), levels
    scene_match: float | None = None  # % (moved check)
    zone_motion: tuple[float, ...] = ()  # % changed per motion zone
    light_change: bool = False  # motion background recalibrated for a light change

    def condition(self, kind: str) -> Condition:
        for c in self.conditions:
            if c.kind == kind:
                return c
        raise KeyError(kind)

    @property
    def active(self) -> tuple[Condition, ...]:
        return tuple(c for c in self.conditions if c.active)


@dataclass(frozen=True, slots=True)
class _Measures:
    """One sample's figures, before any verdict."""

    exposure: exposure.Exposure
    spatial: float | None  # noise sigma in the frame
    temporal: float | None  # noise sigma between samples
    sigma: float | None  # the trusted noise figure
    sharpness: float | None
    textured: float
    variation: float  # cell-mean layout beyond a smooth surface (covered check)
    motion: Motion
    frozen: Condition
    cast: exposure.Cast | None
    coarse: np.ndarray
    factor: int
    features: Features


class CameraAnalyzer:
    def __init__(
        self,
        settings: AnalysisSettings = AnalysisSettings(),  # noqa: B008 - frozen, shared safely
        privacy_masks: Sequence[HasPoints] = (),
        motion_zones: Sequence[HasPoints] = (),
        motion_masks: Sequence[HasPoints] = (),
        baseline: Baseline | None = None,
    ) -> None:
        self.settings = settings
        self._privacy = tuple(privacy_masks)
        self._zones = tuple(motion_zones)
        self._motion_masks = tuple(motion_masks)
        self._keep_cache: dict[tuple[int, ...], np.ndarray] = {}  # image shape -> 1 = visible
        self._layout: Layout | None = None
        self._learner = BaselineLearner(settings.learn_samples, settings.baseline_alpha)
        self._sharp: deque[float] = deque(maxlen=_SHARPNESS_WINDOW)
        self._reference: Reference | None = None
        self._baseline: Baseline | None = None
        self._last_at = 0.0
        self._mono: bool | None = None
        self._set_aside: dict[bool, Baseline] = {}  # the other mode's baseline, by mono
        self._noise_prev: noise.Reading | None = None  # last sample's noise reading
        self._pending: tuple[Features, float] | None = None  # healthy, teaches next time
        self._temporal: deque[float | None] = deque(maxlen=2)
        if self._privacy or self._zones or self._motion_masks:
            build_masks(90, 160, self._privacy, self._zones, self._motion_masks)  # validate now
        self.baseline = baseline

    # -- baseline ---------------------------------------------------------------

    @property
    def baseline(self) -> Baseline | None:
        return self._baseline

    @baseline.setter
    def baseline(self, value: Baseline | None) -> None:
        self._baseline = value
        self._pending = None
        self._set_aside.clear()
        self._reference = None
        self._sharp.clear()
        self._learner.reset()
        if value is not None and value.noise_floor is not None and self._layout is not None:
            self._frozen.adopt_floor(value.noise_floor)

    def capture_baseline(self) -> Baseline:
        """A baseline from the last few samples, now (after an installer aims the camera)."""
        recent = list(self._learner.recent)
        if not recent or self._layout is None:
            raise RuntimeError("no frame analyzed yet: cannot capture a baseline")
        layout = self._layout
        b = build(recent, (layout.height, layout.width), self._frozen.floor, self._last_at)
        self.baseline = b
        return b

    # -- masks ------------------------------------------------------------------

    def mask(self, image: np.ndarray) -> np.ndarray:
        """Privacy-masked copy (masked pixels black) of a gray HxW or rgb HxWx3 image.

        Returns the image itself when the camera has no privacy masks."""
        if not self._privacy:
            return image
        if image.ndim not in (2, 3):
            raise ValueError(f"expected a gray or rgb image, got shape {image.shape}")
        return apply_mask(image, self._keep(image.shape))

    def _keep(self, shape: tuple[int, ...]) -> np.ndarray:
        """uint8 array of `shape`: 1 where visible, 0 under a privacy mask (cached)."""
        keep = self._keep_cache.get(shape)
        if keep is None:
            visible = (~rasterize(self._privacy, shape[0], shape[1])).astype(np.uint8)
            if len(shape) == 3:
                visible = np.ascontiguousarray(np.repeat(visible[:, :, None], shape[2], axis=2))
            keep = self._keep_cache[shape] = visible
        return keep

    # -- analysis ---------------------------------------------------------------

    def analyze(self, sample: FrameSample) -> AnalysisResult:
        gray = _gray(sample.gray)
        layout = self._layout_for(gray.shape)
        b = self._baseline
        if b is not None and (b.height, b.width) != gray.shape:
            self.baseline = None  # learned at another sample size: learn anew
        self._last_at = sample.at
        m = self._measure(sample, gray, layout)
        note = self._learning_note()
        ready = self._baseline if note is None else None
        evidence = None
        if ready is not None:
            evidence = self._compare(m.coarse, m.factor, self.settings.moved_match_pct)
        pct = self._sharpness_pct(m.sharpness) if ready is not None else None
        conditions = resolve(self._judge(m, ready, note, evidence, pct))
        self._noise_prev = noise.reading(m.spatial, m.temporal, self.settings.noise_sigma)
        self._teach(conditions, m.features, gray.shape, sample.at)
        return AnalysisResult(
            conditions=conditions,
            motion_level=m.motion.level,
            motion_grid=m.motion.grid,
            sharpness=m.sharpness or 0.0,
            sharpness_pct=pct,
            noise_sigma=m.sigma or 0.0,
            luma_mean=m.exposure.mean,
            contrast=m.exposure.contrast,
            clipped=100.0 * m.exposure.clipped,
            shift=evidence.shift if evidence is not None else None,
            baseline_ready=ready is not None,
            textured=m.textured,
            entropy=m.exposure.entropy,
            color_offset=conditions[_CAST].value,
            scene_match=evidence.match if evidence is not None else None,
            zone_motion=m.motion.zones,
            light_change=m.motion.light_change,
        )

    def _measure(self, sample: FrameSample, gray: np.ndarray, layout: Layout) -> _Measures:
        """Every figure of this sample; updates the running detectors (motion, frozen)."""
        s = self.settings
        prep = prepare(gray, layout)
        e = exposure.exposure_stats(prep.hist)
        spatial = noise.noise_sigma(prep, layout.noise_cells_ok)
        frozen = self._frozen.update(
            prep, sample.pts_s, layout.cells_ok, s.frozen_mad, s.frozen_cells_pct
        )
        cast = self._color(sample.rgb)
        mode = self._mode_change(cast)
        switched = mode == "switched"
        temporal = self._temporal_noise(None if switched else self._frozen.temporal_sigma)
        sigma = noise.combined(spatial, temporal)
        sig = sigma or 0.0
        sharp = focus.sharpness(prep, sig, e.std * e.std, layout.noise_cells_ok)
        textured = covered_mod.textured_pct(prep, sigma, layout.cells_ok)
        motion = self._motion.update(
            prep, sig, s.motion_threshold, s.motion_cell_pct, s.motion_alpha,
            s.light_change_pct, switched,
        )  # fmt: skip
        coarse, factor = coarse_image(prep.binned)
        if mode is not None:
            self._baseline_for_mode(mode == "first", coarse, factor)
        chroma = cast.chroma if cast is not None and not cast.mono else None
        features = Features(coarse.copy(), sharp, textured, e.mean, chroma)
        self._learner.recent.append(features)
        return _Measures(
            e, spatial, temporal, sigma, sharp, textured,
            covered_mod.layout_variation(prep, layout), motion, frozen, cast, coarse, factor,
            features,
        )  # fmt: skip

    def _judge(
        self,
        m: _Measures,
        ready: Baseline | None,
        note: str | None,
        evidence: MoveEvidence | None,
        pct: float | None,
    ) -> dict[str, Condition]:
        s = self.settings
        dim = exposure.low_light(m.exposure, s)
        flat = exposure.low_contrast(m.exposure, s)
        return {
            "black": exposure.black(m.exposure, m.textured, s),
            "low_light": dim,
            "overexposed": exposure.overexposed(m.exposure, s),
            "low_contrast": flat,
            "color_cast": exposure.color_cast(m.cast, s, ready.chroma if ready else None),
            "covered": covered_mod.covered(
                m.textured,
                m.variation,
                s,
                ready.textured if ready else None,
                _pct(m.sharpness, ready.sharpness if ready else None),
                evidence.match if evidence is not None else None,
                not (dim.active or flat.active),
            ),
            "noise": noise.noise(m.spatial, m.temporal, s.noise_sigma, self._noise_prev),
            "defocus": focus.defocus(pct, s.defocus_pct, note),
            "frozen": m.frozen,
            "moved": moved(evidence, s.moved_match_pct, note, m.factor),
        }

    # -- internals ----------------------------------------------------------------

    def _layout_for(self, shape: tuple[int, int]) -> Layout:
        layout = self._layout
        if layout is not None and (layout.height, layout.width) == shape:
            return layout
        h, w = shape
        masks: Masks = build_masks(h, w, self._privacy, self._zones, self._motion_masks)
        layout = Layout(h, w, masks)
        self._layout = layout
        self._motion = MotionDetector(layout)
        self._frozen = FrozenDetector(layout)
        self._reference = None
        self._sharp.clear()
        self._temporal.clear()
        self._learner.recent.clear()
        b = self._baseline
        if b is not None and b.noise_floor is not None:
            self._frozen.adopt_floor(b.noise_floor)
        return layout

    def _learning_note(self) -> str | None:
        """Why relative checks can't run yet, or None when the baseline is usable."""
        if self._baseline is None:
            n = self._learner.seen
            return f"learning baseline ({n}/{self._learner.target} healthy samples)"
        return None

    def _compare(self, coarse: np.ndarray, factor: int, threshold: float) -> MoveEvidence | None:
        b = self._baseline
        assert b is not None
        ref = self._reference
        if ref is None or ref.image is not b.reference:
            if b.reference.shape != coarse.shape:
                return None
            ref = self._reference = Reference(b.reference, factor)
        return compare(coarse, ref, threshold)

    def _sharpness_pct(self, sharp: float | None) -> float | None:
        b = self._baseline
        if sharp is None or b is None or b.sharpness is None or b.sharpness <= 0.0:
            return None
        self._sharp.append(sharp)
        return _pct(sorted(self._sharp)[len(self._sharp) // 2], b.sharpness)

    def _color(self, rgb: object) -> exposure.Cast | None:
        if rgb is None:
            return None
        if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError("rgb frame must be a HxWx3 numpy array")
        if rgb.dtype != np.uint8:
            raise ValueError(f"rgb frame must be uint8, got {rgb.dtype}")
        keep = None
        if self._privacy:
            rgb = self.mask(rgb)
            keep = self._keep(rgb.shape)[:, :, 0]
        return exposure.color_stats(rgb, keep)

    def _temporal_noise(self, latest: float | None) -> float | None:
        """The lower of the last two temporal estimates: a camera move or a light change
        changes one pair of samples, noise changes them all. None until two exist (a
        colour/IR switch counts as no estimate)."""
        self._temporal.append(latest)
        if len(self._temporal) < 2 or None in self._temporal:
            return None
        return min(self._temporal)  # type: ignore[type-var]

    def _mode_change(self, cast: exposure.Cast | None) -> str | None:
        """ "switched" when the camera just switched between colour and mono (IR night
        mode), "first" when this is the first sample that tells, else None."""
        if cast is None:
            return None
        if cast.mono:
            mono = True
        elif cast.spread > _COLOUR_SPREAD:
            mono = False
        else:
            return None  # in the hysteresis band: keep the last state
        before, self._mono = self._mono, mono
        if before is None:
            return "first"
        return "switched" if mono != before else None

    def _baseline_for_mode(self, first: bool, coarse: np.ndarray, factor: int) -> None:
        """After a colour/mono switch: take back this mode's baseline if one was set
        aside; else keep the current one if the scene still matches it (IR often
        keeps the edges), or set it aside and learn this mode's. On the first
        sample, only a restored baseline learned in the other mode is questioned."""
        mono = bool(self._mono)
        current = self._baseline
        if first and (current is None or (current.chroma is None) == mono):
            return
        other = self._set_aside.pop(mono, None)
        if other is None and current is not None:
            threshold = self.settings.moved_match_pct
            evidence = self._compare(coarse, factor, threshold)
            if evidence is not None and evidence.match >= threshold:
                return  # one baseline serves both modes
        if current is not None:
            self._set_aside[not mono] = current
        self._forget_baseline(other)

    def _forget_baseline(self, replacement: Baseline | None) -> None:
        self._baseline = replacement
        self._pending = None
        self._reference = None
        self._sharp.clear()
        self._learner.reset()

    def _teach(
        self, conditions: tuple[Condition, ...], f: Features, shape: tuple[int, int], at: float
    ) -> None:
        """Learn or slowly refresh the baseline from a sample with nothing wrong in it.

        Learning takes medians, which one odd sample cannot move. A refresh blends
        single samples in, so a sample refreshes one sample late, once the next
        is healthy too: the first sample of a fault often passes (noise and frozen
        compare pairs of samples, focus takes a median) and must not teach."""
        pending, self._pending = self._pending, None
        if any(c.active and c.kind not in _HARMLESS for c in conditions):
            return
        floor = self._frozen.floor
        b = self._baseline
        if b is None:
            learned = self._learner.learn(f, shape, floor, at)
            if learned is not None:
                self._baseline = learned
            return
        self._pending = (f, at)
        if pending is not None:
            self._baseline = self._learner.refresh(b, pending[0], floor)


def _pct(value: float | None, reference: float | None) -> float | None:
    if value is None or reference is None or reference <= 0.0:
        return None
    return 100.0 * value / reference


def _gray(value: object) -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.ndim != 2:
        raise ValueError("gray frame must be a 2-D numpy array")
    if value.dtype != np.uint8:
        raise ValueError(f"gray frame must be uint8, got {value.dtype}")
    return value


__all__ = ["GRID_COLS", "GRID_ROWS", "AnalysisResult", "CameraAnalyzer"]
