import random

from camwatch.backoff import Backoff


def test_backoff_grows_to_cap_with_jitter() -> None:
    b = Backoff(1.0, 60.0, rng=random.Random(1))
    delays = [b.next_delay() for _ in range(12)]
    assert 0.5 <= delays[0] <= 1.0
    assert all(30.0 <= d <= 60.0 for d in delays[7:])
    b.reset()
    assert b.next_delay() <= 1.0


def test_jitter_spreads_a_fleet() -> None:
    # 200 cameras failing together must not retry in lock-step.
    firsts = sorted(Backoff(8.0, 60.0, rng=random.Random(i)).next_delay() for i in range(200))
    assert firsts[-1] - firsts[0] > 3.0
    assert len({round(d, 2) for d in firsts}) > 150
