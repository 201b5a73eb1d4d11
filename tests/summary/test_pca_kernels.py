"""The compiled kernels of the replay's PCA (``bot/summary/_kernels/lanczos.pyx``) against the
NumPy code they replace: the same eigenpairs (to the refinement's tolerance), the same signs,
projections and Gram matrix (to rounding), the same votes, counts and sums (exactly), and a
whole replay with the same groups. Skipped when the kernels were not built (an install
without a C compiler), which the suite's own install never is."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from bot.summary import analysis as A
from bot.summary import replay_pca as R
from bot.summary.analysis import EVERY_POLL, replay
from bot.summary.polis_io import load_polis_comments, load_polis_votes

L = R._LANCZOS
pytestmark = pytest.mark.skipif(L is None, reason="the compiled kernels were not built")

DATA = Path(
    os.environ.get(
        "DEBATE_BOT_POLIS_DATA",
        Path(__file__).resolve().parents[2].parent / "shared" / "polis-opendata",
    )
)


def krylov(
    cov: A.FloatArray, used: A.IntArray, prev: A.FloatArray
) -> tuple[bool, A.FloatArray, A.FloatArray]:
    assert L is not None
    columns = np.arange(cov.shape[0], dtype=np.int64)
    ok, theta, vecs = L.krylov(
        cov, used, prev, columns, R.KRYLOV_BLOCKS, R.RESTART_BLOCKS, R.MAX_RESTARTS, 1e-8
    )
    return ok, theta, vecs


def test_krylov_finds_the_two_leading_eigenpairs() -> None:
    """A full-rank matrix with two leading directions and one of rank 2 (its later blocks
    vanish) converge to the eigenpairs of ``eigh``; a zero matrix (no positive eigenvalue)
    and a start that vanishes do not converge."""
    rng = np.random.default_rng(3)
    m = 70
    noise = rng.normal(size=(m, m)) * 0.1
    spikes = rng.normal(size=(m, 2)) * np.array([4.0, 2.5])
    low = rng.normal(size=(m, 2)) * np.array([5.0, 3.0])
    every = np.arange(m, dtype=np.int64)
    start = rng.normal(size=(2, m))
    for cov in (spikes @ spikes.T + noise @ noise.T, low @ low.T):
        ok, theta, vecs = krylov(cov, every, start)
        w, v = np.linalg.eigh(cov)
        assert ok
        assert np.allclose(theta, w[:-3:-1], rtol=1e-10)
        assert np.allclose(np.abs(vecs @ v[:, :-3:-1]), np.eye(2), atol=1e-6)
    assert not krylov(np.zeros((m, m)), every, start)[0]
    assert not krylov(low @ low.T, every, np.zeros((2, m)))[0]


def test_krylov_over_the_used_columns_only() -> None:
    """Columns without votes are zero rows and columns of the Gram matrix: the eigenvectors
    come over the used columns only, from a start read through ``columns`` (the stream column
    of each position) where the previous components reach."""
    assert L is not None
    rng = np.random.default_rng(5)
    m = 90
    used = np.sort(rng.choice(m, size=60, replace=False)).astype(np.int64)
    x = rng.normal(size=(200, 60)) * (0.85 ** np.arange(60) + 0.05)
    cov = np.zeros((m, m))
    cov[np.ix_(used, used)] = x.T @ x
    w, v = np.linalg.eigh(x.T @ x)
    columns = (np.arange(m) * 2).astype(np.int64)  # positions map to even stream columns
    prev = np.zeros((2, 2 * m))
    prev[:, columns[used]] = (v[:, :-3:-1] + 0.01 * rng.normal(size=(60, 2))).T
    ok, theta, vecs = L.krylov(cov, used, prev, columns, 8, 4, 4, 1e-8)
    assert ok and vecs.shape == (2, 60)
    assert np.allclose(theta, w[:-3:-1], rtol=1e-10)
    assert np.allclose(np.abs(vecs @ v[:, :-3:-1]), np.eye(2), atol=1e-6)
    narrow = prev[:, : int(columns[used[30]])]  # the previous components reach half of them
    assert L.krylov(cov, used, narrow, columns, 8, 4, 4, 1e-8)[0]
    with pytest.raises(ValueError):
        L.krylov(cov, np.array([m], np.int64), prev, columns, 8, 4, 4, 1e-8)


def test_signed_basis_is_the_numpy_one(monkeypatch: pytest.MonkeyPatch) -> None:
    assert L is not None
    rng = np.random.default_rng(8)
    cases = []
    for m, n_prev in ((40, 60), (40, 20), (40, 0), (5, 5)):
        vecs = np.linalg.qr(rng.normal(size=(m, 2)))[0]
        used = np.sort(rng.choice(60, size=m, replace=False)).astype(np.int64)
        prev = rng.normal(size=(2, n_prev)) if n_prev else None
        for w in (np.array([3.0, 1.0]), np.array([3.0, 0.0]), np.array([0.5])):
            cases.append((w, vecs[:, : w.size], used, prev))
    compiled = [L.signed_basis(*case) for case in cases]
    monkeypatch.setattr(A, "_LANCZOS", None)
    for case, got in zip(cases, compiled, strict=True):
        assert np.array_equal(got, A._signed_basis(*case))


def test_votes_projection_and_gram_matrix_are_the_numpy_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same votes applied to a compiled and a NumPy warm PCA: the same matrices, counts
    and sums, the same Gram matrix and change bound (to rounding), and the same projection."""
    rng = np.random.default_rng(21)
    n_rows, n_cols = 120, 50
    active = np.ones(n_cols, np.bool_)
    active[[3, 17]] = False  # moderated out: their votes are ignored
    compiled = R.WarmPCA(n_rows, n_cols, active)
    monkeypatch.setattr(R, "_LANCZOS", None)
    plain = R.WarmPCA(n_rows, n_cols, active)
    monkeypatch.undo()
    assert compiled.capacity == 1 and plain.capacity > 1
    seen = np.zeros((n_rows, n_cols), np.bool_)
    for _ in range(40):
        rows = rng.integers(0, n_rows, 12)
        cols = rng.integers(0, n_cols, 12)
        keys = np.unique(rows * n_cols + cols)  # each slot at most once per update
        rows, cols = keys // n_cols, keys % n_cols
        vals = rng.choice([-1.0, 0.0, 1.0], size=rows.size)
        fresh = ~seen[rows, cols]
        seen[rows, cols] = True
        compiled.apply(rows, cols, vals, fresh)
        monkeypatch.setattr(R, "_LANCZOS", None)
        plain.apply(rows, cols, vals, fresh)
        monkeypatch.undo()
        for name in ("values", "voted", "centred", "counts", "sums", "row_votes"):
            assert np.array_equal(getattr(compiled, name), getattr(plain, name)), name
        assert np.allclose(compiled.cov, plain.cov, rtol=0, atol=1e-12)
        assert compiled._bound_step == pytest.approx(plain._bound_step, rel=1e-12)
    step = compiled.mark(n_rows)
    basis = rng.normal(size=(step.used_pos.size, 2))
    expected = compiled.centred[:, step.used_pos] @ basis
    assert np.allclose(compiled.project(step, basis), expected, rtol=0, atol=1e-12)
    compiled.solve(None, 0, A._leading_eigenvectors)


@pytest.mark.parametrize("name", ["london.youth.policing", "15-per-hour-seattle"])
def test_a_replay_with_the_kernels_is_the_numpy_replay(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = DATA / name
    if not folder.is_dir():
        pytest.fail(f"Polis open data missing: {folder} (set DEBATE_BOT_POLIS_DATA)")
    votes = load_polis_votes(folder / "votes.csv", keep_history=True)
    moderated = load_polis_comments(folder / "comments.csv")[1]
    compiled = replay(votes, moderated_out=moderated, batch=EVERY_POLL).to_json()
    monkeypatch.setattr(R, "_LANCZOS", None)
    monkeypatch.setattr(A, "_LANCZOS", None)
    plain = replay(votes, moderated_out=moderated, batch=EVERY_POLL).to_json()
    coords, plain_coords = compiled.pop("coords"), plain.pop("coords")
    assert compiled == plain
    assert isinstance(coords, dict) and isinstance(plain_coords, dict)
    assert coords.keys() == plain_coords.keys()
    for p, xy in plain_coords.items():
        assert coords[p] == pytest.approx(xy, abs=1e-6)
