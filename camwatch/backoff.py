"""Reconnect delays: exponential with jitter, so a fleet coming back after a
switch failure does not reconnect in lock-step (a thundering herd)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    initial: float = 1.0
    maximum: float = 60.0
    factor: float = 2.0
    rng: random.Random = field(default_factory=random.Random)
    attempts: int = 0

    def next_delay(self) -> float:
        """Delay before the next attempt: uniform in [cap/2, cap] ("equal jitter")."""
        cap = min(self.maximum, self.initial * self.factor**self.attempts)
        self.attempts += 1
        return self.rng.uniform(cap / 2, cap)

    def reset(self) -> None:
        self.attempts = 0
