"""The image-check kinds, their severities, and the precedence between them.

One fault often trips several checks (a black frame is also dark, flat and
"blurred"); reporting all of them would bury the cause. A check that explains
others suppresses them: they stay in the result, inactive, with the value and a
reason saying what took precedence, so the UI still shows value vs threshold.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..state import IMAGE_CONDITION_KINDS, Condition, Severity

KINDS: tuple[str, ...] = IMAGE_CONDITION_KINDS

# Highest precedence first; each kind suppresses the listed ones while active.
SUPPRESSES: dict[str, tuple[str, ...]] = {
    "black": tuple(k for k in KINDS if k not in ("black", "overexposed")),
    "overexposed": ("low_contrast", "covered", "noise", "defocus", "moved"),
    "noise": ("covered", "low_contrast", "defocus", "moved"),
    "covered": ("low_light", "low_contrast", "color_cast", "defocus", "frozen", "moved"),
    # Dim or flat-range images lose their detail in the encoder: not a lens problem.
    # Dim images also lose their colour to quantization: a cast is not judged.
    "low_light": ("low_contrast", "color_cast", "defocus", "moved"),
    "low_contrast": ("defocus", "moved"),
}


def condition(
    kind: str,
    active: bool,
    value: float | None,
    threshold: float | None,
    reason: str,
    severity: Severity,
) -> Condition:
    """A condition whose severity is OK while inactive (plain Python numbers inside)."""
    active = bool(active)
    return Condition(
        kind, active, None if value is None else float(value),
        None if threshold is None else float(threshold), reason,
        severity if active else Severity.OK,
    )  # fmt: skip


def resolve(found: Mapping[str, Condition]) -> tuple[Condition, ...]:
    """All kinds in KINDS order, with explained-away conditions made inactive."""
    out = dict(found)
    for cause, victims in SUPPRESSES.items():
        if not out[cause].active:
            continue
        for kind in victims:
            c = out[kind]
            if c.active:
                out[kind] = Condition(
                    kind, False, c.value, c.threshold,
                    f"{c.reason} (not raised: {cause.replace('_', ' ')})", Severity.OK,
                )  # fmt: skip
    return tuple(out[k] for k in KINDS)
