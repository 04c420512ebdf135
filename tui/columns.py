"""Table columns that drop by priority when the terminal is narrow."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Col:
    key: str
    label: str
    width: int
    priority: int  # 0 never drops; higher numbers drop first
    grow: int = 0  # how many extra cells it may take when there is room
    right: bool = False  # right-align (numbers)
    descending: bool = False  # default sort direction (worst first)


def plan(cols: tuple[Col, ...], total: int, padding: int = 1) -> list[tuple[Col, int]]:
    """The columns that fit in `total` cells with their widths, in declared order.

    Lowest-priority columns drop first (the last declared among equals); then
    spare cells go to growing columns in declared order, the last grower taking
    whatever remains.
    """
    kept = list(cols)

    def need(cs: list[Col]) -> int:
        return sum(c.width + 2 * padding for c in cs)

    while len(kept) > 1 and need(kept) > total:
        worst = max(range(len(kept)), key=lambda i: (kept[i].priority, i))
        if kept[worst].priority == 0:
            break
        kept.pop(worst)
    widths = {c.key: c.width for c in kept}
    spare = max(0, total - need(kept))
    growers = [c for c in kept if c.grow]
    for i, c in enumerate(growers):
        extra = spare if i == len(growers) - 1 else min(c.grow, spare)
        widths[c.key] += extra
        spare -= extra
    return [(c, widths[c.key]) for c in kept]
