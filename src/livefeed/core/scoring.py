"""Stars, flames and LiveFeed's own engagement score.

Stars (0–3) say how high a person's lead score is among the workspace's scored people; flames
(0–3) how fast it rose: the net rise over the last 7 days among the workspace's people whose score
rose. Either uses one of two tier methods, chosen per workspace:

- "percentile" (default): the cut points are the workspace's own values at fixed percentiles, so
  the tiers adapt to whatever scale the Marketo instance uses;
- "fixed": three thresholds the workspace sets ("30,60,90").

A tier is the number of cut points the value reaches; a value of 0 or less earns no tier.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

TIER_METHODS = ("percentile", "fixed")
# Percentiles (of the values above 0) where the 1st, 2nd and 3rd star or flame begins.
STAR_PERCENTILES = (0.25, 0.60, 0.90)
FLAME_PERCENTILES = (0.0, 0.50, 0.90)  # any rise earns a flame; the top half two; the top tenth three
DEFAULT_STAR_THRESHOLDS = (25, 50, 75)
DEFAULT_FLAME_THRESHOLDS = (5, 15, 30)
FLAME_DAYS = 7

# LiveFeed's engagement score, for people without a Marketo score. Each alerting hit (human, or a
# mail provider's proxy fetching for a human) adds its weight, halving every HALF_LIFE_DAYS;
# machine, scanner and self hits add nothing.
ENGAGEMENT_WEIGHTS = {"open": 1.0, "click": 3.0, "reply": 10.0, "visit": 2.0}
ENGAGEMENT_CLASSES = frozenset({"human", "proxy"})
HALF_LIFE_DAYS = 7.0
ENGAGEMENT_WINDOW_DAYS = 30


@dataclass(frozen=True, slots=True)
class Cuts:
    """Three ascending cut points: reaching the k-th earns k stars (or flames)."""

    points: tuple[float, float, float]

    def tier(self, value: float | None) -> int:
        if value is None or value <= 0:
            return 0
        return sum(1 for point in self.points if value >= point)


def parse_thresholds(text: str, field: str) -> tuple[int, int, int]:
    """ "30,60,90" → (30, 60, 90); three positive, strictly ascending integers."""
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"{field}: {text!r} is not three comma-separated integers") from None
    if len(values) != 3 or values[0] <= 0 or not values[0] < values[1] < values[2]:
        raise ValueError(f"{field}: needs three positive, ascending integers like 30,60,90")
    return values


def percentile_cuts(histogram: Mapping[int, int], percentiles: tuple[float, float, float]) -> Cuts:
    """Cut points at these percentiles of the positive values of a {value: count} histogram.

    The cut for percentile p is the smallest value v such that at least the fraction p of the
    values lies below v … or equal to it for p = 0 (then it is the smallest positive value)."""
    values = sorted((v, n) for v, n in histogram.items() if v > 0 and n > 0)
    total = sum(n for _, n in values)
    if not total:
        return Cuts((math.inf, math.inf, math.inf))
    points = []
    for p in percentiles:
        below, point = 0, values[-1][0]
        for value, count in values:
            if below >= p * total:
                point = value
                break
            below += count
        points.append(point)
    return Cuts(tuple(points))  # type: ignore[arg-type]


def fixed_cuts(thresholds: tuple[int, int, int]) -> Cuts:
    return Cuts(tuple(float(t) for t in thresholds))  # type: ignore[arg-type]


def rise(changes: Iterable[tuple[datetime, int | None, int | None]], now: datetime, days: int = FLAME_DAYS) -> int:
    """Net rise of a score over the last `days`: the sum of (new − old) of its changes since then.
    A first score (from none) is not a rise; the result is never below 0."""
    since = now - timedelta(days=days)
    total = sum(new - old for at, old, new in changes if at >= since and old is not None and new is not None)
    return max(total, 0)


def engagement_score(hits: Iterable[tuple[str, str, datetime]], now: datetime) -> float:
    """Σ weight(kind) × ½^(age / half-life) over alerting hits (kind, class, at) of the last 30 days."""
    since = now - timedelta(days=ENGAGEMENT_WINDOW_DAYS)
    score = 0.0
    for kind, cls, at in hits:
        if cls in ENGAGEMENT_CLASSES and at >= since:
            age_days = max((now - at).total_seconds(), 0.0) / 86400
            score += ENGAGEMENT_WEIGHTS.get(kind, 0.0) * 0.5 ** (age_days / HALF_LIFE_DAYS)
    return round(score, 2)


def chart_points(
    changes: list[tuple[float, int]], *, width: int = 600, height: int = 120, pad: int = 8
) -> list[tuple[float, float]]:
    """A score history as points of an SVG polyline: (seconds, score) pairs, oldest first, mapped
    into width × height (y grows downwards); a step holds each score until the next change."""
    if not changes:
        return []
    times = [t for t, _ in changes]
    scores = [s for _, s in changes]
    t0, t1 = min(times), max(times)
    low, high = min(scores + [0]), max(scores)
    span_t, span_s = (t1 - t0) or 1.0, (high - low) or 1
    x = lambda t: round(pad + (t - t0) / span_t * (width - 2 * pad), 1)  # noqa: E731
    y = lambda s: round(height - pad - (s - low) / span_s * (height - 2 * pad), 1)  # noqa: E731
    points: list[tuple[float, float]] = []
    for index, (t, s) in enumerate(changes):
        if index:
            points.append((x(t), points[-1][1]))  # hold the previous score until now
        points.append((x(t), y(s)))
    return points
