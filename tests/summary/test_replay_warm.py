"""The replay's warm-started PCA (``bot.summary.replay_pca``) gives the groups of a replay that
recomputes every update's PCA from scratch: at the final update and at intermediate ones, on a
real Polis conversation and on synthetic votes. Speed is measured by ``benchmarks/replay.py``,
not here."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest

from bot.summary import analysis as A
from bot.summary import replay_pca as R
from bot.summary.analysis import EVERY_POLL, AnalysisResult, Vote, replay
from bot.summary.polis_io import load_polis_comments, load_polis_votes

DATA = Path(
    os.environ.get(
        "DEBATE_BOT_POLIS_DATA",
        Path(__file__).resolve().parents[2].parent / "shared" / "polis-opendata",
    )
)


def groups_of(result: AnalysisResult) -> dict[str, object]:
    """Everything of a result but the map coordinates (those agree to rounding only)."""
    data = result.to_json()
    for group in data["groups"]:  # type: ignore[attr-defined]
        group.pop("centre")
    data.pop("coords")
    return data


def from_scratch(votes: list[Vote], moderated: set[str]) -> AnalysisResult:
    """The replay with every update's PCA computed from scratch (the cold analysis's)."""
    mp = pytest.MonkeyPatch()
    mp.setattr(A, "_warm_pca", lambda data, updates: None)
    try:
        return replay(votes, moderated_out=moderated, batch=EVERY_POLL)
    finally:
        mp.undo()


def warm_counts(mp: pytest.MonkeyPatch) -> list[R.WarmPCA]:
    """Collects the WarmPCA objects the replays create (to check the warm path ran), with
    the refinement on from three statements (the small inputs here would otherwise all take
    the full eigendecomposition)."""
    mp.setattr(R, "REFINE_MIN_COLUMNS", 3)
    made: list[R.WarmPCA] = []
    original = A._warm_pca

    def spy(data: A._Votes, updates: int) -> R.WarmPCA | None:
        warm = original(data, updates)
        if warm is not None:
            made.append(warm)
        return warm

    mp.setattr(A, "_warm_pca", spy)
    return made


def window_ends(votes: list[Vote], count: int) -> list[int]:
    """``count`` prefix lengths of the time-ordered stream that end a one-second poll
    window (a prefix replay then runs exactly the updates of the full replay up to there)."""
    ordered = sorted(votes, key=lambda v: v.timestamp)
    times = np.array([v.timestamp for v in ordered]) / 1000.0
    ends = A._poll_windows(times, 1.0).tolist()
    picks = np.linspace(len(ends) // 5, len(ends) - 2, count).astype(int)
    return [int(ends[i]) for i in picks]


def test_warm_replay_matches_from_scratch_on_london(monkeypatch: pytest.MonkeyPatch) -> None:
    folder = DATA / "london.youth.policing"
    if not folder.is_dir():
        pytest.fail(f"Polis open data missing: {folder} (set DEBATE_BOT_POLIS_DATA)")
    stream = load_polis_votes(folder / "votes.csv", keep_history=True)
    _, moderated = load_polis_comments(folder / "comments.csv")
    stream.sort(key=lambda v: v.timestamp)
    made = warm_counts(monkeypatch)
    for end in [*window_ends(stream, 4), len(stream)]:
        prefix = stream[:end]
        warm = replay(prefix, moderated_out=moderated, batch=EVERY_POLL)
        cold = from_scratch(prefix, moderated)
        assert warm.updates == cold.updates > 10
        assert groups_of(warm) == groups_of(cold), end
        for p, (x, y) in cold.coords.items():
            assert warm.coords[p] == pytest.approx((x, y), abs=1e-6)
    assert made and sum(w.refined for w in made) > sum(w.full_solves for w in made)


def synthetic_stream(seed: int) -> list[Vote]:
    """Three camps of 15 over 30 statements, joining one after the other, with changed votes
    and statements added along the way; two or three votes per second."""
    rng = random.Random(seed)
    leaning = [[rng.choice([-1, 0, 1]) for _ in range(30)] for _ in range(3)]
    votes: list[Vote] = []
    t = 1_600_000_000_000.0
    for i in range(45):
        camp = i % 3
        for s in rng.sample(range(min(30, 10 + i // 3)), k=min(18, 10 + i // 3)):
            value = leaning[camp][s] if rng.random() < 0.8 else rng.choice([-1, 0, 1])
            t += rng.choice([300.0, 400.0, 1500.0])
            votes.append(Vote(f"p{i}", f"s{s}", value, t))
            if rng.random() < 0.05:  # changes the vote a little later
                t += 300.0
                votes.append(Vote(f"p{i}", f"s{s}", -value, t))
    return votes


def numpy_pca(mp: pytest.MonkeyPatch) -> None:
    """The warm PCA's NumPy code (queues of updates refined together), whether or not the
    compiled kernels were built."""
    mp.setattr(R, "_LANCZOS", None)


@pytest.mark.parametrize(
    ("seed", "queue"), [(3, None), (11, None), (3, 1), (11, 3), (3, "compiled"), (11, "compiled")]
)
def test_warm_replay_matches_from_scratch_on_synthetic_votes(
    seed: int, queue: int | str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``queue``: at most that many updates queued (1: no queue, as for a conversation with so
    many statements that a second Gram matrix would not fit in the queue's memory);
    "compiled": the compiled kernels, one update at a time."""
    votes = synthetic_stream(seed)
    moderated = {"s7"}
    if queue == "compiled":
        if R._LANCZOS is None:
            pytest.skip("the compiled kernels were not built (no C compiler at install)")
    else:
        numpy_pca(monkeypatch)
    if isinstance(queue, int):  # the Gram matrices are over the statements not moderated out
        columns = len({v.statement for v in votes} - moderated)
        monkeypatch.setattr(R, "BATCH_BYTES", queue * 8 * columns**2)
    made = warm_counts(monkeypatch)
    for end in [*window_ends(votes, 2), len(votes)]:
        warm = replay(votes[:end], moderated_out=moderated, batch=EVERY_POLL)
        cold = from_scratch(votes[:end], moderated)
        assert warm.updates == cold.updates
        assert groups_of(warm) == groups_of(cold), end
    assert made and sum(w.refined for w in made) > 0
    capacity = 1 if queue == "compiled" else queue or R.BATCH_MAX
    assert {w.capacity for w in made} == {capacity}
    assert (made[0]._stack is None) == (capacity == 1)
    assert len(replay(votes, moderated_out=moderated, batch=EVERY_POLL).groups) >= 2
    count = len(made)
    replay(votes, moderated_out=moderated)  # a few dozen updates: PCA from scratch each time
    assert len(made) == count


def test_components_follow_a_crossing_of_the_second_and_third_eigenvalues(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Statement 2 gets ever more decided votes (passes turned to agree/disagree) until its
    spread passes statement 1's: the second component moves from one to the other. The
    refined components must follow (the gap guard falls back to a full solve near the
    crossing) and match the cold PCA at every step."""
    monkeypatch.setattr(R, "REFINE_MIN_COLUMNS", 3)
    rng = np.random.default_rng(5)
    n_rows, n_cols = 60, 6
    values = rng.choice([-1.0, 1.0], size=(n_rows, n_cols))
    for col, share in ((1, 0.5), (2, 0.1), (3, 0.08), (4, 0.06), (5, 0.04)):
        values[rng.random(n_rows) >= share, col] = 0.0
    warm = R.WarmPCA(n_rows, n_cols, np.ones(n_cols, np.bool_))
    rows, cols = (a.reshape(-1) for a in np.indices((n_rows, n_cols)))
    warm.apply(rows, cols, values[rows, cols], np.ones(rows.size, np.bool_))
    comps: np.ndarray | None = None
    passes = list(np.flatnonzero(values[:, 2] == 0.0))
    rng.shuffle(passes)
    seconds = []
    while passes:
        changed = np.array(passes[-2:])
        del passes[-2:]
        values[changed, 2] = rng.choice([-1.0, 1.0], size=changed.size)
        warm.apply(
            changed, np.full(changed.size, 2), values[changed, 2], np.zeros(changed.size, bool)
        )
        snap = A._Snapshot(n_rows, n_cols, rows, cols, values[rows, cols], np.zeros(n_cols, bool))
        cold_comps, cold_proj = A._pca(snap, ~snap.mod, comps, 0)
        step = warm.components(comps, n_rows, 0, A._leading_eigenvectors)
        used = warm.columns[step.used_pos]
        basis = A._signed_basis(step.values, step.vectors, used, comps)
        assert np.allclose(basis.T, cold_comps[:, used], atol=1e-6)
        assert np.allclose(warm.project(step, basis), cold_proj, atol=1e-6)
        comps = cold_comps
        seconds.append(int(np.argmax(np.abs(cold_comps[1]))))
    assert seconds[0] == 1 and seconds[-1] == 2  # the crossing happened
    assert warm.refined > 0 and warm.full_solves > 1


def test_refined_components_match_the_cold_pca_on_many_statements() -> None:
    """150 statements (so the Krylov spaces are far from the whole space): a few votes
    change at each step, and the refined components and projection must be the cold
    PCA's to 1e-6 -- mostly without a full eigendecomposition."""
    rng = np.random.default_rng(8)
    n_rows, n_cols = 300, 150
    camp = rng.integers(0, 3, n_rows)
    leaning = rng.choice([-1.0, 1.0], size=(3, n_cols))
    values = np.where(rng.random((n_rows, n_cols)) < 0.7, leaning[camp], 0.0)
    values[rng.random((n_rows, n_cols)) < 0.2] *= -1.0
    voted = rng.random((n_rows, n_cols)) < 0.6
    warm = R.WarmPCA(n_rows, n_cols, np.ones(n_cols, np.bool_))
    rows, cols = np.nonzero(voted)
    warm.apply(rows, cols, values[rows, cols], np.ones(rows.size, np.bool_))
    comps: np.ndarray | None = None
    for _ in range(25):
        snap = A._Snapshot(n_rows, n_cols, rows, cols, values[rows, cols], np.zeros(n_cols, bool))
        cold_comps, cold_proj = A._pca(snap, ~snap.mod, comps, 0)
        step = warm.components(comps, n_rows, 0, A._leading_eigenvectors)
        used = warm.columns[step.used_pos]
        basis = A._signed_basis(step.values, step.vectors, used, comps)
        assert np.allclose(basis.T, cold_comps[:, used], atol=1e-6)
        assert np.allclose(warm.project(step, basis), cold_proj, atol=1e-6)
        comps = cold_comps
        pick = rng.choice(rows.size, size=3, replace=False)  # three votes change
        values[rows[pick], cols[pick]] = rng.choice([-1.0, 0.0, 1.0], size=3)
        warm.apply(rows[pick], cols[pick], values[rows[pick], cols[pick]], np.zeros(3, bool))
    assert warm.refined > 2 * warm.full_solves


def test_queued_updates_get_the_components_of_each_update(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ten updates queued, then refined together from the components before the first of
    them: each gets its own matrix's components and projection (the cold PCA's, to 1e-6),
    in the order queued, whichever of them a full eigendecomposition takes instead."""
    numpy_pca(monkeypatch)
    rng = np.random.default_rng(12)
    n_rows, n_cols = 200, 90
    camp = rng.integers(0, 3, n_rows)
    leaning = rng.choice([-1.0, 1.0], size=(3, n_cols))
    values = np.where(rng.random((n_rows, n_cols)) < 0.75, leaning[camp], 0.0)
    voted = rng.random((n_rows, n_cols)) < 0.5
    warm = R.WarmPCA(n_rows, n_cols, np.ones(n_cols, np.bool_))
    assert warm.capacity >= 10
    rows, cols = np.nonzero(voted)
    warm.apply(rows, cols, values[rows, cols], np.ones(rows.size, np.bool_))
    first = warm.components(None, n_rows, 0, A._leading_eigenvectors)
    comps = np.zeros((2, n_cols))
    comps[:, warm.columns[first.used_pos]] = A._signed_basis(
        first.values, first.vectors, warm.columns[first.used_pos], None
    ).T
    snapshots = []
    for i in range(10):
        # Votes change, and (from the sixth update) new participants vote on every column.
        pick = rng.choice(rows.size, size=4, replace=False)
        values[rows[pick], cols[pick]] = rng.choice([-1.0, 1.0], size=4)
        changed_rows, changed_cols = rows[pick], cols[pick]
        if i >= 5:
            newcomer = np.flatnonzero(~voted.any(axis=1))[:1]
            voted[newcomer] = True
            changed_rows = np.concatenate((changed_rows, np.repeat(newcomer, n_cols)))
            changed_cols = np.concatenate(
                (changed_cols, np.tile(np.arange(n_cols), newcomer.size))
            )
        fresh = np.ones(changed_rows.size, np.bool_)
        fresh[:4] = False
        warm.apply(changed_rows, changed_cols, values[changed_rows, changed_cols], fresh)
        rows, cols = np.nonzero(voted)
        snapshots.append(
            A._Snapshot(n_rows, n_cols, rows, cols, values[rows, cols], np.zeros(n_cols, bool))
        )
        warm.mark(n_rows)
    steps = warm.solve(comps, 0, A._leading_eigenvectors)
    assert [s.seq for s in steps] == sorted(s.seq for s in steps) and len(steps) == 10
    for step, snap in zip(steps, snapshots, strict=True):
        cold_comps, cold_proj = A._pca(snap, ~snap.mod, comps, 0)
        used = warm.columns[step.used_pos]
        basis = A._signed_basis(step.values, step.vectors, used, comps)
        assert np.allclose(basis.T, cold_comps[:, used], atol=1e-6)
        assert np.allclose(warm.project(step, basis), cold_proj, atol=1e-6)
        assert step.row_votes.tolist() == np.bincount(snap.rows, minlength=n_rows).tolist()
        comps = cold_comps
    assert warm.refined >= 8


def test_block_lanczos_on_a_stack_of_matrices(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each matrix of the stack gets its own two leading eigenpairs: a full-rank one with two
    leading directions, one of rank 2 (its Krylov space is invariant after two blocks: the
    later blocks vanish) and a zero one (no positive eigenvalue: not converged, left to the
    full eigendecomposition)."""
    rng = np.random.default_rng(3)
    m = 70
    noise = rng.normal(size=(m, m)) * 0.1
    spikes = rng.normal(size=(m, 2)) * np.array([4.0, 2.5])
    low = rng.normal(size=(m, 2)) * np.array([5.0, 3.0])
    covs = np.stack([spikes @ spikes.T + noise @ noise.T, low @ low.T, np.zeros((m, m))])
    start = rng.normal(size=(m, 2))
    ok, theta, vecs = R._krylov(covs, start)
    assert ok.tolist() == [True, True, False]
    for i in range(2):
        w, v = np.linalg.eigh(covs[i])
        assert np.allclose(theta[i], w[:-3:-1], rtol=1e-10)
        assert np.allclose(np.abs(vecs[i].T @ v[:, :-3:-1]), np.eye(2), atol=1e-6)
    # Slots that are not a prefix of the queue: the same results, from a copy.
    numpy_pca(monkeypatch)
    warm = R.WarmPCA(5, m, np.ones(m, np.bool_))
    assert warm._stack is not None and warm.capacity >= 3
    warm._stack[:3] = covs[[2, 0, 1]]
    steps = [
        R.WarmStep(slot, slot, 5, np.arange(m), np.zeros(5, np.int64), 0.0, []) for slot in (1, 2)
    ]
    found = warm._refined(steps, start)
    assert sorted(found) == [1, 2]
    assert np.allclose(found[1][0], theta[0]) and np.allclose(found[2][0], theta[1])


def test_warm_replay_matches_from_scratch_across_restarts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Restarts of the math worker (pauses in the votes) end a queue of updates: the update
    and its recomputation on load see the votes of that update."""
    votes = synthetic_stream(7)
    moderated = {"s7"}
    made = warm_counts(monkeypatch)
    batching = A.ReplayBatching(max_updates=2**62, restart_gap_seconds=1.4)
    warm = replay(votes, moderated_out=moderated, batch=batching)
    monkeypatch.setattr(A, "_warm_pca", lambda data, updates: None)
    cold = replay(votes, moderated_out=moderated, batch=batching)
    assert warm.updates == cold.updates
    assert groups_of(warm) == groups_of(cold)
    assert made and sum(w.refined for w in made) > 0
    assert len(warm.groups) >= 2


def without_shortcuts(votes: list[Vote], moderated: set[str]) -> AnalysisResult:
    """The replay with every step computed at every update: base clusters and every k's
    groups by their own k-means, the best k ranked on the exact silhouettes (no shortcut
    shared by the ks, nothing kept from an update where it held)."""
    mp = pytest.MonkeyPatch()
    mp.setattr(A, "_held_groupings", lambda *args: ({}, None))
    mp.setattr(A, "_base_still_held", lambda *args: None)
    mp.setattr(A, "_base_held", lambda *args: (None, None))
    mp.setattr(A, "_groups_still_held", lambda *args: False)

    def exact_best(
        points: A.FloatArray, labelings: dict[int, A.IntArray]
    ) -> tuple[int, float, A._Spread]:
        scores = A._silhouettes(points, labelings)
        best = max(scores.values())
        spread = A._silhouette_estimates(points, labelings)[1]
        return max(k for k, s in scores.items() if s == best), 0.0, spread

    mp.setattr(A, "_best_k", exact_best)
    try:
        return replay(votes, moderated_out=moderated, batch=EVERY_POLL)
    finally:
        mp.undo()


@pytest.mark.parametrize("source", ["london", "synthetic"])
def test_shortcuts_give_the_replay_that_computes_every_step(
    source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if source == "london":
        folder = DATA / "london.youth.policing"
        if not folder.is_dir():
            pytest.fail(f"Polis open data missing: {folder} (set DEBATE_BOT_POLIS_DATA)")
        votes = load_polis_votes(folder / "votes.csv", keep_history=True)
        moderated = load_polis_comments(folder / "comments.csv")[1]
    else:
        votes, moderated = synthetic_stream(5), {"s7"}
    held: list[int] = []
    kept = {"base": 0, "groups": 0}
    held_groupings, base_still, groups_still = (
        A._held_groupings,
        A._base_still_held,
        A._groups_still_held,
    )

    def spy(*args: object) -> tuple[dict[int, A._Grouping], A.FloatArray | None]:
        found = held_groupings(*args)  # type: ignore[arg-type]
        held.append(len(found[0]))
        return found

    def spy_base(*args: object) -> A._Clusters | None:
        found = base_still(*args)  # type: ignore[arg-type]
        kept["base"] += found is not None
        return found

    def spy_groups(memo: A._HeldGroups, base: A._Clusters, weights: A.FloatArray) -> bool:
        found = groups_still(memo, base, weights)
        if found:  # each k's own k-means and the exact silhouettes agree, at this update
            kept["groups"] += 1
            labels = {}
            for k, prev in memo.groupings.items():
                ids, init, start = A._clean_start(base.centres, prev.group_ids, k, weights, None)
                grouped = A._kmeans(base.centres, ids, init, A.GROUP_ITERS, weights, start)
                assert np.array_equal(grouped.labels, prev.group_ids)
                labels[k] = grouped.labels
            scores = A._silhouettes(base.centres, labels)
            best = max(scores.values())
            assert memo.best_k == max(k for k, s in scores.items() if s == best)
        return found

    # Base clusters are kept only when there are BASE_K of them: fewer here (the in-conv
    # participants of these inputs are too few for 100).
    base_k = pytest.MonkeyPatch()
    base_k.setattr(A, "BASE_K", 12)
    try:
        monkeypatch.setattr(A, "_held_groupings", spy)
        monkeypatch.setattr(A, "_base_still_held", spy_base)
        monkeypatch.setattr(A, "_groups_still_held", spy_groups)
        shared = replay(votes, moderated_out=moderated, batch=EVERY_POLL)
        monkeypatch.undo()
        every = without_shortcuts(votes, moderated)
    finally:
        base_k.undo()
    assert shared.to_json() == every.to_json()
    assert len(shared.groups) >= 2
    assert sum(held) > len(held) // 2  # most updates kept the previous groupings
    assert kept["groups"] > 0
    assert kept["base"] > 0


def test_silhouette_estimates_rank_like_the_exact_silhouettes() -> None:
    rng = np.random.default_rng(4)
    points = rng.normal(size=(60, 2))
    labelings = {k: rng.integers(0, k, 60) * 3 + 1 for k in range(2, 6)}  # ids need not be 0..k-1
    labelings[6] = np.full(60, 2)  # one group only: -1
    exact = A._silhouettes(points, labelings)
    estimates, spread = A._silhouette_estimates(points, labelings)
    assert spread.means.tolist() == list(estimates.values())
    assert list(estimates) == list(exact)
    for k, value in exact.items():
        assert estimates[k] == pytest.approx(value, abs=1e-12)
    best = max(exact.values())
    assert A._best_k(points, labelings)[0] == max(k for k, s in exact.items() if s == best)
    # Equal labelings tie exactly: the larger k wins, as in Polis's max-key; a tie leads
    # by nothing (nothing may be kept from it).
    twins = {2: labelings[3], 3: labelings[3], 4: labelings[2]}
    k, lead, _ = A._best_k(points, twins)
    assert k == (3 if exact[3] >= exact[2] else 4)
    assert lead == 0.0 or k == 4


def test_groups_kept_only_while_their_k_means_and_best_k_would_not_change() -> None:
    """Random moves of the base clusters of a held grouping: whenever the bound says the
    groupings and the best k hold, each k's own k-means and the exact silhouettes agree."""
    rng = np.random.default_rng(7)
    kept = dropped = 0
    for trial in range(150):
        n = 40
        camps = rng.normal(scale=rng.uniform(1.0, 4.0), size=(4, 2))
        centres = rng.normal(size=(n, 2)) + np.repeat(camps, [10, 10, 10, 10], axis=0)
        ids = np.arange(n, dtype=np.int64)
        state = A._State()
        comps = np.ones((2, 3))
        for _ in range(3):  # groupings found, then held (and kept as a reference)
            base = A._Clusters(ids, centres, ids.copy())
            state.groupings = A._grouped(state, base, comps)[0]
        memo = state.group_memo
        if memo is None:
            continue
        scale = 10.0 ** rng.uniform(-3, 0)
        # Camps drift apart or together (silhouettes change) and points jitter.
        drift = np.repeat(rng.normal(scale=scale, size=(4, 2)), [10, 10, 10, 10], axis=0)
        moved = centres + drift + rng.normal(scale=scale / 10, size=centres.shape)
        moved_base = A._Clusters(ids, moved, ids.copy())
        weights = np.ones(n)
        if not A._groups_still_held(memo, moved_base, weights):
            dropped += 1
            continue
        kept += 1
        labels = {}
        for k, prev in memo.groupings.items():
            gids, init, start = A._clean_start(moved, prev.group_ids, k, weights, None)
            grouped = A._kmeans(moved, gids, init, A.GROUP_ITERS, weights, start)
            assert np.array_equal(grouped.labels, prev.group_ids), trial
            labels[k] = grouped.labels
        scores = A._silhouettes(moved, labels)
        best = max(scores.values())
        assert memo.best_k == max(k for k, s in scores.items() if s == best), trial
    assert kept > 5 and dropped > 5


def test_groups_not_kept_across_a_change_of_the_best_k() -> None:
    """Three camps, the third closing in on the second step by step: the groupings hold all
    along while the best k goes from 3 to 2 (23 base clusters: k is 2 or 3). At every step
    where the bound keeps the groupings, the exact silhouettes of their labellings rank the
    kept best k first."""
    rng = np.random.default_rng(2)
    noise = rng.normal(scale=0.3, size=(23, 2))
    ids = np.arange(23, dtype=np.int64)
    comps, weights = np.ones((2, 3)), np.ones(23)
    state = A._State()
    chosen: list[int] = []
    kept = 0
    for step in range(1750):
        camps = np.array([[0.0, 0.0], [8.0, 0.0], [8.0, 8.0 - 0.004 * step]])
        base = A._Clusters(ids, camps[np.arange(23) % 3] + noise, ids.copy())
        memo = state.group_memo
        if memo is not None and A._groups_still_held(memo, base, weights):
            kept += 1
            labels = {k: g.group_ids for k, g in memo.groupings.items()}
            scores = A._silhouettes(base.centres, labels)
            best = max(scores.values())
            assert memo.best_k == max(k for k, s in scores.items() if s == best), step
        state.groupings, k = A._grouped(state, base, comps)
        chosen.append(k)
    assert chosen[0] == 3 and chosen[-1] == 2
    assert kept > 1000
