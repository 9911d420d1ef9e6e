"""Anomaly scoring of series: change points, robust z-scores, rate and ratio tests.

Plain functions over small lists of numbers (aggregates from SQL), no store access.

    >>> change_point([0.0, 0.0, 0.01, 0.0, 0.3, 0.32, 0.29])
    4
    >>> round(robust_z([10, 11, 9, 10, 10.5], 30), 1)
    27.0
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from scipy.stats import fisher_exact, mannwhitneyu, norm


def change_point(values: Sequence[float], weights: Sequence[float] | None = None,
                 min_segment: int = 2) -> int | None:
    """Index of the first value after the single most likely level shift, or None if too short.

    Least-squares split into two constant segments (weighted, so a bucket with few requests counts
    less); ties go to the later split so a shift is dated when it happened, not when noise began.
    """
    n = len(values)
    if n < 2 * min_segment:
        return None
    w = list(weights) if weights is not None else [1.0] * n
    best, best_cost = None, math.inf
    sw = sum(w)
    swx = sum(wi * x for wi, x in zip(w, values))
    swxx = sum(wi * x * x for wi, x in zip(w, values))
    lw = lwx = lwxx = 0.0
    for k in range(1, n):
        lw += w[k - 1]
        lwx += w[k - 1] * values[k - 1]
        lwxx += w[k - 1] * values[k - 1] ** 2
        if k < min_segment or n - k < min_segment:
            continue
        rw, rwx, rwxx = sw - lw, swx - lwx, swxx - lwxx
        cost = _sse(lw, lwx, lwxx) + _sse(rw, rwx, rwxx)
        if cost <= best_cost:
            best, best_cost = k, cost
    return best


def drop_point(values: Sequence[float], min_segment: int = 2) -> int | None:
    """Index of the first value after the most likely fall in level, by ranks (Pettitt's statistic,
    each split's scaled by its spread under no change, k·(n−k), so that a fall a few dozen values
    from either end is not outweighed by chance drift around the middle: the raw statistic favours
    middle splits).

    Ranks make it indifferent to a few extreme values (a burst of retries at start-up) that a
    least-squares split would cut around instead of the lasting fall; None if too short or nothing fell.

    >>> drop_point([9, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1], min_segment=2)
    8
    """
    from scipy.stats import rankdata
    n = len(values)
    if n < 2 * min_segment:
        return None
    ranks = rankdata(values)
    best, best_u, r = None, 0.0, 0.0
    for k in range(1, n):
        r += float(ranks[k - 1])
        u = (2 * r - k * (n + 1)) / math.sqrt(k * (n - k))  # > 0 when the first k sit above the rest
        if min_segment <= k <= n - min_segment and u > best_u:
            best, best_u = k, u
    return best


def _sse(w: float, wx: float, wxx: float) -> float:
    return wxx - wx * wx / w if w > 0 else 0.0


def shift_strength(values: Sequence[float], split: int) -> float:
    """How far the mean after `split` sits from the mean before it, in robust units of the before part."""
    before, after = list(values[:split]), list(values[split:])
    if not before or not after:
        return 0.0
    return robust_z(before, sum(after) / len(after))


def robust_z(baseline: Sequence[float], value: float, floor: float | None = None) -> float:
    """(value - median) / (1.4826 MAD), with a floor on the spread so flat baselines don't explode.

    The default floor is 5% of the median; pass one for log-scaled or near-zero series.
    """
    if not baseline:
        return 0.0
    med = median(baseline)
    mad = median([abs(x - med) for x in baseline]) * 1.4826
    floor = max(abs(med) * 0.05, 1e-9) if floor is None else floor
    return (value - med) / max(mad, floor)


def median(values: Sequence[float]) -> float:
    s = sorted(values)
    n = len(s)
    if n == 0:
        return 0.0
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def proportion_z(errors_a: float, total_a: float, errors_b: float, total_b: float) -> float:
    """Two-proportion z statistic of b's rate over a's (positive: b is worse)."""
    if total_a <= 0 or total_b <= 0:
        return 0.0
    pa, pb = errors_a / total_a, errors_b / total_b
    pooled = (errors_a + errors_b) / (total_a + total_b)
    se = math.sqrt(max(pooled * (1 - pooled), 1e-12) * (1 / total_a + 1 / total_b))
    return (pb - pa) / se


def exact_proportion_z(errors_a: int, total_a: int, errors_b: int, total_b: int) -> float:
    """b's rate over a's as a z (positive: b is worse) from a one-sided Fisher exact test: the normal
    approximation calls three errors in thirty against a near-zero rate several sigma, where the
    exact chance is a few in ten thousand."""
    if total_a <= 0 or total_b <= 0:
        return 0.0
    table = [[errors_b, total_b - errors_b], [errors_a, total_a - errors_a]]
    p = float(fisher_exact(table, alternative="greater").pvalue)
    return z_of(p)


def z_of(p: float) -> float:
    """The one-sided z a p-value stands for (a p of 0 counts as 1e-300, not as infinitely sure)."""
    return float(norm.isf(min(max(float(p), 1e-300), 1.0)))


def ratio(after: float | None, before: float | None, floor: float = 1e-9) -> float:
    """after / before with a floor on the denominator (1.0 when either is missing)."""
    if after is None or before is None:
        return 1.0
    return after / max(before, floor)


def rises(after: Sequence[float], before: Sequence[float]) -> float:
    """One-sided Mann–Whitney p-value that `after` lies above `before`; exact where one side is
    small, as the normal approximation misjudges a handful of values."""
    method = "exact" if min(len(after), len(before)) < 8 and len(after) * len(before) <= 20_000 else "auto"
    return float(mannwhitneyu(after, before, alternative="greater", method=method).pvalue)


def slower_z(after: Sequence[float], before: Sequence[float], cut: float) -> float:
    """How surely `after` is slower than `before`, as a one-sided z: the larger of a rank test (the
    bulk moved) and an exact test on the share past `cut`, the before's p90 (the slow tail grew).

    A p90 of a few dozen requests moves with two slow ones, and a dozen requests all slower than
    every one before is a clear shift: both are read by how sure the difference is, not its size."""
    if len(after) < 2 or len(before) < 2:
        return 0.0
    bulk = z_of(rises(after, before))
    tail = exact_proportion_z(sum(v > cut for v in before), len(before), sum(v > cut for v in after), len(after))
    return max(bulk, tail)
