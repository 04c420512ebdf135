"""Image health and motion analysis of sampled keyframes (numpy only).

The camera pipeline creates one `CameraAnalyzer` per camera and calls
`analyze(sample)` for each decoded keyframe; see analyzer.py.
"""

from .analyzer import AnalysisResult, CameraAnalyzer
from .baseline import Baseline
from .conditions import KINDS
from .settings import AnalysisSettings

__all__ = ["KINDS", "AnalysisResult", "AnalysisSettings", "Baseline", "CameraAnalyzer"]
