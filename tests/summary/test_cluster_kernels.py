"""The compiled clustering kernels (``bot/summary/_kernels/clusters.pyx``) give the NumPy code's
results: exactly where they repeat its arithmetic (k-means, clean start, held checks), to
rounding where NumPy multiplies matrices (the silhouette estimates); and a replay gives the
same result with and without them."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.summary import analysis as A

CK = pytest.importorskip(
    "bot.summary._kernels.clusters",
    reason="the clustering kernels are not built (python setup.py build_ext --inplace)",
)

DATA = Path(
    os.environ.get(
        "DEBATE_BOT_POLIS_DATA",
        Path(__file__).resolve().parents[2].parent / "shared" / "polis-opendata",
    )
)


def both(monkeypatch: pytest.MonkeyPatch, run: Callable[..., Any], *args: Any) -> tuple[Any, Any]:
    """``run(*args)`` with the kernels, then with the NumPy code."""
    monkeypatch.setattr(A, "_CK", CK)
    fast = run(*args)
    monkeypatch.setattr(A, "_CK", None)
    slow = run(*args)
    monkeypatch.setattr(A, "_CK", CK)
    return fast, slow


def same(a: Any, b: Any) -> None:
    """Exactly equal results (arrays, clusterings, tuples, None)."""
    if isinstance(a, A._Clusters):
        assert isinstance(b, A._Clusters)
        a, b = (a.ids, a.centres, a.labels), (b.ids, b.centres, b.labels)
    if isinstance(a, list):
        assert a == b
    elif isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            same(x, y)
    elif a is None or b is None:
        assert a is None and b is None
    else:
        assert np.array_equal(np.asarray(a), np.asarray(b))
        assert np.asarray(a).dtype == np.asarray(b).dtype


def points(rng: np.random.Generator, n: int, grid: float | None = None) -> A.FloatArray:
    """n points in the plane; on a grid (many duplicates) when ``grid`` is given."""
    x = rng.normal(size=(n, 2)) * rng.uniform(0.01, 10.0)
    return np.round(x / grid) * grid if grid else x


CASES = [(seed, grid) for seed in range(12) for grid in (None, 0.5)]


@pytest.mark.parametrize(("seed", "grid"), CASES)
def test_distinct_rows(monkeypatch: pytest.MonkeyPatch, seed: int, grid: float | None) -> None:
    rng = np.random.default_rng(seed)
    for n in (0, 1, 2, 7, 60):
        x = points(rng, n, grid)
        same(*both(monkeypatch, A._distinct_count, x))
        for k in (1, 3, 100):
            same(*both(monkeypatch, A._first_distinct, x, k))


@pytest.mark.parametrize(("seed", "grid"), CASES)
def test_weighted_centres(monkeypatch: pytest.MonkeyPatch, seed: int, grid: float | None) -> None:
    rng = np.random.default_rng(seed)
    x = points(rng, 50, grid)
    labels = rng.integers(0, 9, 50)  # some of 0..11 empty
    w = rng.integers(1, 20, 50).astype(np.float64)
    for weights in (None, w):
        same(*both(monkeypatch, A._weighted_centres, x, labels, 12, weights))


def previous_labels(rng: np.random.Generator, n: int, k: int) -> A.IntArray:
    """Previous cluster ids (sparse ids, some rows in none)."""
    ids = np.sort(rng.choice(3 * k, size=k, replace=False))
    labels = ids[rng.integers(0, k, n)]
    labels[rng.random(n) < 0.1] = -1
    return labels


@pytest.mark.parametrize(("seed", "grid"), CASES)
def test_clean_start(monkeypatch: pytest.MonkeyPatch, seed: int, grid: float | None) -> None:
    rng = np.random.default_rng(seed)
    for n, k, prev in ((40, 5, 3), (40, 5, 8), (200, 100, 90), (30, 100, 10), (6, 4, 2)):
        x = points(rng, n, grid)
        labels = previous_labels(rng, n, prev)
        w = rng.integers(1, 9, n).astype(np.float64)
        for weights in (None, w):
            same(*both(monkeypatch, A._clean_start, x, labels, k, weights, None))
        full = labels.copy()
        full[full < 0] = labels.max()
        same(*both(monkeypatch, A._clean_start, x, full, k, None, 3))
        none = np.full(n, -1, np.int64)
        same(*both(monkeypatch, A._clean_start, x, none, k, None, None))


def test_clean_start_merges_identical_centres(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two previous clusters on the same point (and a third of two points) merge, keeping the
    id of the larger; then the most distal points split off."""
    x = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [1.0, 1.0], [3.0, 1.0], [5.0, 5.0]])
    labels = np.array([4, 7, 7, 2, 2, -1])
    for k in (2, 3, 4, 6):
        got = both(monkeypatch, A._clean_start, x, labels, k, None, None)
        same(*got)
        assert got[0][0].size == min(k, 4)


@pytest.mark.parametrize(("seed", "grid"), CASES)
def test_kmeans(monkeypatch: pytest.MonkeyPatch, seed: int, grid: float | None) -> None:
    rng = np.random.default_rng(seed)
    for n, k, iters in ((300, 100, 100), (100, 5, 20), (12, 3, 20), (50, 1, 20), (40, 8, 0)):
        x = points(rng, n, grid)
        w = rng.integers(1, 30, n).astype(np.float64)
        ids = np.sort(rng.choice(2 * k, size=k, replace=False))
        init = x[rng.choice(n, size=k, replace=False)] + rng.normal(size=(k, 2)) * 0.01
        init[0] = [1e3, 1e3]  # a centre nobody is nearest: dropped
        for weights in (None, w):
            same(*both(monkeypatch, A._kmeans, x, ids, init, iters, weights))
        # From a clean start (the centres the means of the start's clusters).
        start_ids, start, pos = A._clean_start(x, previous_labels(rng, n, k), k, None, None)
        if pos is not None:
            same(*both(monkeypatch, A._kmeans, x, start_ids, start, 100, None, pos))


def held_base(rng: np.random.Generator, n: int) -> tuple[A.FloatArray, A._HeldBase | None]:
    """Points and a held base clustering of them (100 clusters), None when it did not hold."""
    x = points(rng, n)
    found = A._kmeans(x, np.arange(100), x[:100].copy(), 100, None)
    ids, init, start = A._clean_start(x, found.labels, 100, None, None)
    assert start is not None
    _, memo = A._base_held(x, ids, init, start, np.arange(n))
    return x, memo


@pytest.mark.parametrize("seed", range(10))
def test_base_held(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """The first step from a clean start: the clustering and each row's reach, or (for moved
    points) None and then the k-means (with the kernel: the k-means's clustering at once)."""
    rng = np.random.default_rng(seed)
    x = points(rng, 400)
    found = A._kmeans(x, np.arange(100), x[:100].copy(), 100, None)
    ids, init, start = A._clean_start(x, found.labels, 100, None, None)
    assert start is not None
    rows = np.arange(400)
    for moved in (x, x + rng.normal(size=x.shape) * 0.3):
        fast, slow = both(monkeypatch, A._base_held, moved, ids, init, start, rows)
        if slow[0] is None:
            assert fast[1] is None
            same(fast[0], A._kmeans(moved, ids, init, A.BASE_ITERS, None, start))
        else:
            same(fast[0], slow[0])
            assert fast[1] is not None and slow[1] is not None
            same(fast[1].reach, slow[1].reach)


@pytest.mark.parametrize("seed", range(10))
def test_base_still_held(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    rng = np.random.default_rng(seed)
    monkeypatch.setattr(A, "_CK", None)
    x, slow_memo = held_base(rng, 500)
    monkeypatch.setattr(A, "_CK", CK)
    _, fast_memo = held_base(np.random.default_rng(seed), 500)
    assert slow_memo is not None and fast_memo is not None
    assert slow_memo.kernel is None and fast_memo.kernel is not None
    rows = np.arange(500)
    outcomes = set()
    for scale in (0.0, 1e-9, 1e-6, 1e-4, 1e-3, 1e-2, 0.1):
        moved = x + rng.normal(size=x.shape) * scale
        fast = A._base_still_held(fast_memo, moved, rows)
        slow = A._base_still_held(slow_memo, moved, rows)
        same(fast, slow)
        outcomes.add(fast is None)
    assert outcomes == {True, False}
    assert A._base_still_held(fast_memo, x[:-1], rows[:-1]) is None
    other = rows.copy()
    other[-1] += 1
    assert A._base_still_held(fast_memo, x, other) is None


def grouping_state(
    rng: np.random.Generator, n: int, ks: list[int]
) -> tuple[A._State, A._Clusters, A.FloatArray]:
    """Base clusters (n centres) with previous groupings for every k, and their weights."""
    centres = points(rng, n)
    ids = np.sort(rng.choice(3 * n, size=n, replace=False))
    base = A._Clusters(ids, centres, ids)
    weights = rng.integers(1, 12, n).astype(np.float64)
    state = A._State()
    old_ids = ids.copy()
    for k in ks:
        found = A._kmeans(centres, np.arange(k), centres[:k].copy(), 20, weights)
        for _ in range(50):  # to a fixed point (held at the next update)
            again = A._kmeans(centres, found.ids, found.centres, 20, weights)
            if np.array_equal(again.labels, found.labels):
                break
            found = again
        state.groupings[k] = A._Grouping(old_ids, found.labels)
    return state, base, weights


@pytest.mark.parametrize("seed", range(10))
def test_held_groupings(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    rng = np.random.default_rng(seed)
    ks = [2, 3, 4, 5]
    state, base, weights = grouping_state(rng, 100, ks)
    for scale in (0.0, 0.05, 1.0):
        moved = A._Clusters(base.ids, base.centres + rng.normal(size=(100, 2)) * scale, base.ids)
        fast, slow = both(monkeypatch, A._held_groupings, state, moved, weights, ks, moved.ids)
        assert list(fast[0]) == list(slow[0])
        for k in fast[0]:
            same(fast[0][k].group_ids, slow[0][k].group_ids)
        same(fast[1], slow[1])
    # A grouping with two groups on one point (merged) does not hold.
    state.groupings[2] = A._Grouping(state.groupings[2].base_ids, np.arange(100) % 2)
    dup = A._Clusters(base.ids, np.zeros((100, 2)), base.ids)
    fast, slow = both(monkeypatch, A._held_groupings, state, dup, weights, ks, dup.ids)
    assert list(fast[0]) == list(slow[0]) and 2 not in fast[0]
    same(fast[1], slow[1])


def labelings(rng: np.random.Generator, n: int) -> dict[int, A.IntArray]:
    out = {k: rng.integers(0, k, n) * 3 for k in (2, 3, 4, 5)}  # sparse group ids
    out[5][:] = 0  # one group only: silhouette -1
    out[4][1:] = 6  # a point alone in its group
    return out


@pytest.mark.parametrize(("seed", "grid"), CASES)
def test_silhouette_estimates(
    monkeypatch: pytest.MonkeyPatch, seed: int, grid: float | None
) -> None:
    """Agree with NumPy's to rounding (its distance sums are a BLAS product)."""
    rng = np.random.default_rng(seed)
    x = points(rng, 100, grid)
    labs = labelings(rng, 100)
    fast, slow = both(monkeypatch, A._silhouette_estimates, x, labs)
    assert list(fast[0]) == list(slow[0])
    np.testing.assert_allclose(list(fast[0].values()), list(slow[0].values()), rtol=1e-12)
    for name in ("lab", "counts", "sizes", "own"):
        same(getattr(fast[1], name), getattr(slow[1], name))
    np.testing.assert_allclose(fast[1].denom, slow[1].denom, rtol=1e-12)
    exact = A._silhouettes(x, labs)
    np.testing.assert_allclose(list(fast[0].values()), list(exact.values()), rtol=1e-12)
    # Best k: the same k, and the estimates' lead the same to rounding.
    got = both(monkeypatch, A._best_k, x, labs)
    assert got[0][0] == got[1][0]
    assert got[0][1] == pytest.approx(got[1][1], rel=1e-9, abs=1e-12)


def held_groups(
    rng: np.random.Generator, ks: list[int]
) -> tuple[A._Clusters, A.FloatArray, A._HeldGroups, A._HeldGroups]:
    """Base clusters whose groupings held, as the kernel's and as the NumPy code's memo."""
    state, base, weights = grouping_state(rng, 100, ks)
    groupings, margins = A._held_groupings(state, base, weights, ks, base.ids)
    assert margins is not None and len(groupings) == len(ks)
    labs = {k: g.group_ids for k, g in groupings.items()}
    best, _, spread = A._best_k(base.centres, labs)
    memo = A._HeldGroups(base.ids, weights, base.centres, groupings, margins, best, spread)
    return base, weights, memo, A._HeldGroups(**memo_fields(memo))


def memo_fields(memo: A._HeldGroups) -> dict[str, Any]:
    names = ("base_ids", "weights", "points", "groupings", "margins", "best_k", "spread")
    return {name: getattr(memo, name) for name in names}


@pytest.mark.parametrize("seed", range(10))
def test_groups_still_held(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    rng = np.random.default_rng(seed)
    base, weights, fast_memo, _ = held_groups(rng, [2, 3, 4])
    monkeypatch.setattr(A, "_CK", None)
    slow_memo = A._HeldGroups(**memo_fields(fast_memo))
    monkeypatch.setattr(A, "_CK", CK)
    assert fast_memo.kernel is not None and slow_memo.kernel is None
    outcomes = set()
    for scale in (0.0, 1e-9, 1e-6, 1e-4, 1e-3, 1e-2, 3e-2, 0.1, 1.0):
        moved = A._Clusters(base.ids, base.centres + rng.normal(size=(100, 2)) * scale, base.ids)
        for w in (weights, weights + (rng.random(100) < 0.05)):
            fast = A._groups_still_held(fast_memo, moved, w)
            slow = A._groups_still_held(slow_memo, moved, w)
            assert fast == slow
            outcomes.add(fast)
    assert outcomes == {True, False}
    other = A._Clusters(base.ids + 1, base.centres, base.ids + 1)
    assert not A._groups_still_held(fast_memo, other, weights)
    assert A._groups_still_held(
        fast_memo, A._Clusters(base.ids.copy(), base.centres, base.ids), weights
    )


def test_candidate_ks_and_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    ids = np.sort(rng.choice(300, size=60, replace=False))
    base = A._Clusters(ids, points(rng, 60), ids[rng.integers(0, 60, 400)])
    for comps in (np.zeros((2, 9)), np.eye(2, 9), rng.normal(size=(2, 30))):
        same(*both(monkeypatch, A._candidate_ks, base, comps))
    sizes = np.bincount(np.searchsorted(base.ids, base.labels), minlength=60).astype(float)
    same(CK.cluster_sizes(base.ids, base.labels), sizes)


def replay_json(folder: Path) -> str:
    from bot.summary.polis_io import load_polis_comments, load_polis_votes

    stream = load_polis_votes(folder / "votes.csv", keep_history=True)
    _, moderated = load_polis_comments(folder / "comments.csv")
    result = A.replay(stream, moderated_out=moderated, batch=A.EVERY_POLL)
    return json.dumps(result.to_json(), sort_keys=True)


def test_replay_same_with_and_without_kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    folder = DATA / "london.youth.policing"
    if not folder.is_dir():
        pytest.skip(f"Polis open data missing: {folder} (set DEBATE_BOT_POLIS_DATA)")
    fast, slow = both(monkeypatch, replay_json, folder)
    assert fast == slow
