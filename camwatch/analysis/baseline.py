"""A camera's learned normal: what the relative checks compare against.

Learned from the first `baseline_samples` healthy samples (medians, so people
walking through don't count), refreshed slowly while the camera stays healthy,
or captured on demand from the last few samples (after an installer aims the
camera). Persisted as an .npz archive in bytes: portable, no pickle.
"""

from __future__ import annotations

import io
import math
import zipfile
from collections import deque
from dataclasses import dataclass

import numpy as np

FORMAT_VERSION = 1
_MAX_STORED = 16  # reference images kept while learning (every k-th beyond this)
_RECENT = 4  # samples an on-demand capture uses
REFRESH_EVERY = 8  # healthy samples between slow refreshes


@dataclass(frozen=True, eq=False)
class Baseline:
    width: int  # gray frame size it was learned at
    height: int
    reference: np.ndarray  # float32 coarse image (see moved.coarse_image)
    sharpness: float | None  # focus score (None: scene too flat to judge)
    textured: float  # % of grid cells with texture
    luma: float
    noise_floor: float | None  # frozen check's learned still-cell difference
    samples: int
    created: float  # wall time
    chroma: tuple[float, float] | None = None  # usual mean chroma (None: mono camera)

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez_compressed(
            buf,
            version=np.int64(FORMAT_VERSION),
            size=np.array([self.width, self.height], np.int64),
            reference=self.reference.astype(np.float32),
            scalars=np.array(
                [_nan(self.sharpness), self.textured, self.luma, _nan(self.noise_floor),
                 self.samples, self.created, *(self.chroma or (math.nan, math.nan))],
                np.float64,
            ),
        )  # fmt: skip
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Baseline:
        """Parse to_bytes() output; anything else raises ValueError."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                version = int(z["version"])
                if version != FORMAT_VERSION:
                    raise _Unsupported(f"baseline format {version} is not supported")
                size = z["size"]
                reference = z["reference"]
                scalars = z["scalars"]
        except _Unsupported as exc:
            raise ValueError(str(exc)) from None
        except (OSError, ValueError, KeyError, EOFError, TypeError, zipfile.BadZipFile) as exc:
            raise ValueError(f"not a camwatch baseline: {exc}") from None
        return cls._validated(size, reference, scalars)

    @classmethod
    def _validated(cls, size: np.ndarray, ref: np.ndarray, scalars: np.ndarray) -> Baseline:
        if size.shape != (2,) or scalars.shape != (8,):
            raise ValueError("baseline fields have wrong shapes")
        if ref.ndim != 2 or min(ref.shape) < 8 or ref.dtype != np.float32:
            raise ValueError(f"baseline reference image is invalid ({ref.dtype}, {ref.shape})")
        if not np.all(np.isfinite(ref)):
            raise ValueError("baseline reference image has non-finite values")
        width, height = (int(v) for v in size)
        sharp, textured, luma, floor, samples, created, rg, yb = (float(v) for v in scalars)
        finite = (textured, luma, created, samples)
        if width <= 0 or height <= 0 or not all(map(math.isfinite, finite)) or samples < 0:
            raise ValueError("baseline scalars are invalid")
        chroma = None if math.isnan(rg) or math.isnan(yb) else (rg, yb)
        return cls(
            width,
            height,
            ref,
            _none(sharp),
            textured,
            luma,
            _none(floor),
            int(samples),
            created,
            chroma,
        )


class _Unsupported(Exception):
    pass


def _nan(v: float | None) -> float:
    return math.nan if v is None else v


def _none(v: float) -> float | None:
    return None if math.isnan(v) else v


@dataclass(frozen=True, eq=False)
class Features:
    """What one sample contributes to a baseline."""

    reference: np.ndarray
    sharpness: float | None
    textured: float
    luma: float
    chroma: tuple[float, float] | None  # None: no colour frame, or mono


class BaselineLearner:
    """Accumulates healthy samples into a Baseline, then keeps it slowly up to date."""

    def __init__(self, samples: int, alpha: float) -> None:
        self.target = samples
        self.alpha = alpha
        self.seen = 0
        self._stored: list[Features] = []
        self._step = max(1, math.ceil(samples / _MAX_STORED))
        self.recent: deque[Features] = deque(maxlen=_RECENT)
        self._since_refresh = 0

    def reset(self) -> None:
        self.seen = 0
        self._stored.clear()
        self.recent.clear()
        self._since_refresh = 0

    def learn(
        self, f: Features, size: tuple[int, int], floor: float | None, at: float
    ) -> Baseline | None:
        """Count one healthy sample; the new Baseline once enough were seen."""
        if self.seen % self._step == 0:
            self._stored.append(f)
        self.seen += 1
        if self.seen < self.target:
            return None
        baseline = build(self._stored, size, floor, at, count=self.seen)
        self._stored.clear()
        return baseline

    def refresh(self, b: Baseline, f: Features, floor: float | None) -> Baseline:
        """Blend a healthy sample in, every REFRESH_EVERY samples (cheaper, same drift)."""
        self._since_refresh += 1
        if self._since_refresh < REFRESH_EVERY or self.alpha <= 0.0:
            return b
        self._since_refresh = 0
        a = 1.0 - (1.0 - self.alpha) ** REFRESH_EVERY
        sharp = b.sharpness
        if sharp is not None and f.sharpness is not None:
            # One odd sample (a passing truck, the first frame of a fault) moves the
            # baseline no further than a sample at half or twice its sharpness would.
            sample = min(max(f.sharpness, 0.5 * sharp), 2.0 * sharp)
            sharp += a * (sample - sharp)
        ref = b.reference + np.float32(a) * (f.reference - b.reference)
        return Baseline(
            b.width, b.height, ref.astype(np.float32), sharp,
            b.textured + a * (f.textured - b.textured), b.luma + a * (f.luma - b.luma),
            floor if floor is not None else b.noise_floor, b.samples, b.created,
            _blend(b.chroma, f.chroma, a),
        )  # fmt: skip


def build(
    samples: list[Features],
    size: tuple[int, int],
    floor: float | None,
    at: float,
    count: int | None = None,
) -> Baseline:
    if not samples:
        raise ValueError("no samples to build a baseline from")
    refs = np.stack([f.reference for f in samples])
    reference = np.median(refs, axis=0).astype(np.float32) if len(samples) > 2 else refs.mean(0)
    sharps = [f.sharpness for f in samples if f.sharpness is not None]
    sharp = float(np.median(sharps)) if len(sharps) * 2 >= len(samples) else None
    chromas = [f.chroma for f in samples if f.chroma is not None]
    chroma = None
    if len(chromas) * 2 > len(samples):
        rg, yb = np.median(np.array(chromas), axis=0)
        chroma = (float(rg), float(yb))
    return Baseline(
        width=size[1], height=size[0], reference=reference.astype(np.float32), sharpness=sharp,
        textured=float(np.median([f.textured for f in samples])),
        luma=float(np.mean([f.luma for f in samples])), noise_floor=floor,
        samples=count or len(samples), created=at, chroma=chroma,
    )  # fmt: skip


def _blend(
    old: tuple[float, float] | None, new: tuple[float, float] | None, a: float
) -> tuple[float, float] | None:
    if old is None or new is None:
        return old
    return (old[0] + a * (new[0] - old[0]), old[1] + a * (new[1] - old[1]))
