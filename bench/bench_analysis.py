"""Per-frame cost of the image analyzers (prints figures; not a test).

    python bench/bench_analysis.py [--repeat N]

Times each analyzer on its own and the whole CameraAnalyzer.analyze() at 160x90
and 320x180, on one core (BLAS threads pinned to 1), with synthetic camera-like
frames: a textured scene, a moving object, sensor noise. Goal: the whole set
under 1 ms per frame at 320x180.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from camwatch.analysis import AnalysisSettings, CameraAnalyzer, covered, exposure, focus, noise
from camwatch.analysis.frame import Layout, build_masks, prepare
from camwatch.analysis.frozen import FrozenDetector
from camwatch.analysis.motion import MotionDetector
from camwatch.analysis.moved import Reference, coarse_image, compare
from camwatch.analysis.synthetic import Blob, FakeCamera
from camwatch.state import FrameSample


@dataclass(frozen=True)
class Region:
    kind: str
    points: tuple[tuple[float, float], ...]


def timed(fn: Callable[[int], object], n: int, repeat: int) -> float:
    """Median over `repeat` runs of the mean µs per call over n calls (fn gets the index)."""
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        for i in range(n):
            fn(i)
        runs.append((time.perf_counter_ns() - t0) / n / 1000.0)
    return statistics.median(runs)


def frames(width: int, height: int, count: int = 32) -> list[FrameSample]:
    cam = FakeCamera(1, width=width, height=height, noise=2.0)
    return [cam.sample(blobs=[Blob(0.1 + 0.8 * i / count, 0.6, 0.1)], clock=i)
            for i in range(count)]  # fmt: skip


def bench_size(width: int, height: int, n: int, repeat: int) -> dict[str, float]:
    samples = frames(width, height)
    grays = [s.gray for s in samples]
    s = AnalysisSettings()
    layout = Layout(height, width, build_masks(height, width, (), (), ()))
    preps = [prepare(g, layout) for g in grays[:2]]
    p = preps[0]
    e = exposure.exposure_stats(p.hist)
    sigma = noise.noise_sigma(p, layout.noise_cells_ok) or 0.0
    motion = MotionDetector(layout)
    frozen = FrozenDetector(layout)
    coarse, factor = coarse_image(p.binned)
    ref = Reference(coarse_image(prepare(grays[1], layout).binned)[0].copy(), factor)
    moved_ref = Reference(np.roll(coarse, 6, axis=1).copy(), factor)
    k = len(grays)
    out: dict[str, float] = {}
    out["prepare (mask, histogram, binning, cells, derivatives)"] = timed(
        lambda i: prepare(grays[i % k], layout), n, repeat
    )
    out["exposure: histogram stats + checks"] = timed(
        lambda i: [f(exposure.exposure_stats(p.hist), s) for f in
                   (exposure.low_light, exposure.overexposed, exposure.low_contrast)],
        n, repeat,
    )  # fmt: skip
    out["colour cast"] = timed(
        lambda i: exposure.color_cast(exposure.color_stats(samples[i % k].rgb, None), s, None),
        n, repeat,
    )  # fmt: skip
    out["noise"] = timed(lambda i: noise.noise_sigma(p, layout.noise_cells_ok), n, repeat)
    out["focus"] = timed(
        lambda i: focus.sharpness(p, sigma, e.std * e.std, layout.noise_cells_ok), n, repeat
    )
    out["covered"] = timed(
        lambda i: (covered.textured_pct(p, sigma, layout.cells_ok),
                   covered.layout_variation(p, layout)),
        n, repeat,
    )  # fmt: skip
    out["motion"] = timed(
        lambda i: motion.update(preps[i % 2], sigma, s.motion_threshold, s.motion_cell_pct,
                                s.motion_alpha, s.light_change_pct),
        n, repeat,
    )  # fmt: skip
    out["frozen (+ temporal noise)"] = timed(
        lambda i: frozen.update(preps[i % 2], float(i), layout.cells_ok, 0.3, 85.0), n, repeat
    )
    out["moved: in place"] = timed(
        lambda i: compare(coarse_image(p.binned)[0], ref, s.moved_match_pct), n, repeat
    )
    out["moved: shifted (phase correlation)"] = timed(
        lambda i: compare(coarse_image(p.binned)[0], moved_ref, s.moved_match_pct), n, repeat
    )
    for label, masks in (("", ()), (" with a privacy mask", (_mask(),))):
        an = CameraAnalyzer(AnalysisSettings(baseline_samples=8), privacy_masks=masks)
        for smp in samples[:12]:
            an.analyze(smp)
        assert an.baseline is not None
        out[f"WHOLE analyze(){label}"] = timed(
            lambda i, an=an: an.analyze(samples[i % k]), n, repeat
        )
    return out


def _mask() -> Region:
    return Region("polygon", ((0.6, 0.0), (1.0, 0.0), (1.0, 0.4), (0.7, 0.3)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs per figure (median)")
    parser.add_argument("--calls", type=int, default=400, help="calls per run")
    args = parser.parse_args()
    print(f"python {platform.python_version()}, numpy {np.__version__}, "
          f"{platform.processor() or platform.machine()}, BLAS threads "
          f"{os.environ['OPENBLAS_NUM_THREADS']}")  # fmt: skip
    results = {size: bench_size(*size, args.calls, args.repeat) for size in ((160, 90), (320, 180))}
    names = list(results[(160, 90)])
    width = max(map(len, names))
    print(f"\n{'µs per frame':<{width}}  {'160x90':>8}  {'320x180':>8}")
    for name in names:
        print(f"{name:<{width}}  {results[(160, 90)][name]:8.1f}  {results[(320, 180)][name]:8.1f}")
    whole = results[(320, 180)]["WHOLE analyze()"]
    print(f"\ngoal: whole set < 1000 µs at 320x180: {'met' if whole < 1000 else 'NOT met'} "
          f"({whole:.0f} µs)")  # fmt: skip


if __name__ == "__main__":
    main()
