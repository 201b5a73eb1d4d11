"""The PCA of a replay, warm-started from one update to the next.

A replay at Polis's cadence runs one update per second of activity, each on the votes of the
previous one plus a handful. Recomputing the PCA of every update from scratch (rebuilding the
centred matrix, ``Xc^T Xc`` and a full eigendecomposition) was most of a replay's time. Here,
as Polis does (``pca.clj`` ``powerit-pca`` with ``:start-vectors``), each update starts from
the previous components, but it iterates until they are the components of the new matrix to
near machine precision, so the replay keeps the groups of a from-scratch computation:

* the centred matrix (missing votes 0, a vote ``value - column mean``) and its Gram matrix
  ``C = Xc^T Xc`` are kept between updates; only the columns whose votes changed are
  recomputed (their mean moved, so their whole column and its row and column of ``C``);
* the two leading eigenvectors of ``C`` are refined from the previous ones by a block
  LOBPCG (Rayleigh-Ritz over the previous vectors, their residuals and the previous
  correction) until every residual is below :data:`RESIDUAL_TOL` times the top eigenvalue;
* a refined pair is only trusted if no third eigenvalue can have overtaken the second: the
  third eigenvalue is known exactly at the last full eigendecomposition, and by Weyl's
  inequality it has moved since by at most the summed norms of the changes to ``C``. When
  that bound comes within :data:`GAP_MARGIN` of the second eigenvalue, or the refinement does
  not converge, the update falls back to the full eigendecomposition of a cold analysis.

Only for conversations whose dense centred matrix is small (the cold analysis's own dense
limit); larger ones replay with the from-scratch PCA.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import scipy.linalg

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

RESIDUAL_TOL = 1e-8  # refined when every ||C v - theta v|| <= this * theta_1
KRYLOV_BLOCKS = 8  # blocks of two vectors in each Krylov space
MAX_RESTARTS = 4
# Below this many used columns a full eigendecomposition is as cheap as the refinement.
REFINE_MIN_COLUMNS = 64
GAP_MARGIN = 1e-6  # the third eigenvalue's bound must stay below theta_2 * (1 - this)

# (cov over the used columns, n_comp, seed) -> (eigenvalues, eigenvectors), largest first
Eigensolver = Callable[[FloatArray, int, int], tuple[FloatArray, FloatArray]]


class WarmPCA:
    """The centred vote matrix of a replay and its PCA, updated vote by vote.

    ``n_rows`` participants and the statement columns ``columns`` (the columns that are not
    moderated out, by their index in the vote stream) are known from the start; rows and
    columns that have no vote yet are zero and take no part in the components."""

    def __init__(self, n_rows: int, n_cols: int, active: BoolArray) -> None:
        self.columns: IntArray = np.flatnonzero(active)
        self.position = np.full(n_cols, -1, np.int64)
        self.position[self.columns] = np.arange(self.columns.size)
        m = self.columns.size
        # Column-major: an update reads and rewrites whole columns.
        self.values = np.zeros((n_rows, m), order="F")
        self.voted = np.zeros((n_rows, m), order="F")
        self.centred = np.zeros((n_rows, m), order="F")
        self.cov = np.zeros((m, m))
        self.counts = np.zeros(m)
        self.row_votes = np.zeros(n_rows, np.int64)
        self.third_bound = np.inf  # an upper bound of the third eigenvalue of cov
        self.full_solves = 0
        self.refined = 0

    def apply(self, rows: IntArray, cols: IntArray, vals: FloatArray, fresh: BoolArray) -> None:
        """Set the current votes of the given (row, stream column) slots; ``fresh`` marks the
        slots voted for the first time."""
        pos = self.position[cols]
        keep = pos >= 0
        rows, pos, vals, fresh = rows[keep], pos[keep], vals[keep], fresh[keep]
        if not rows.size:
            return
        self.values[rows, pos] = vals
        self.voted[rows, pos] = 1.0
        self.row_votes += np.bincount(rows[fresh], minlength=self.row_votes.size)
        touched = np.unique(pos)
        voted, values = self.voted[:, touched], self.values[:, touched]
        counts = voted.sum(axis=0)
        self.counts[touched] = counts
        changed = (values - values.sum(axis=0) / counts) * voted
        self.centred[:, touched] = changed
        old = self.cov[touched]
        new = changed.T @ self.centred
        self.cov[touched] = new
        self.cov[:, touched] = new.T
        diff = new - old
        inner = diff[:, touched]
        # Frobenius norm of the symmetric change: bounds how far any eigenvalue moved.
        moved = 2.0 * float(np.sum(diff * diff)) - float(np.sum(inner * inner))
        self.third_bound += float(np.sqrt(max(moved, 0.0)))

    def votes_per_row(self, n_rows: int) -> IntArray:
        """Votes of each of the first ``n_rows`` participants on statements not moderated out."""
        return self.row_votes[:n_rows]

    def components(
        self, prev: FloatArray | None, n_rows: int, seed: int, solve: Eigensolver
    ) -> tuple[FloatArray, FloatArray, IntArray]:
        """(eigenvalues, eigenvectors over the used columns, the used columns by their
        position here) -- what the cold PCA finds, signs aside. ``prev`` holds the previous
        components over the stream columns; ``solve`` is the cold eigensolver."""
        used_pos = np.flatnonzero(self.counts > 0)
        m = used_pos.size
        found = None
        if prev is not None and m >= REFINE_MIN_COLUMNS and n_rows >= 3:
            start = np.zeros((self.columns.size, 2))
            inside = self.columns < prev.shape[1]
            start[inside] = prev[:, self.columns[inside]].T
            found = self._refined(start)
            if found is not None and m < self.columns.size:
                found = found[0], found[1][used_pos]
        if found is None:
            found = self._full(used_pos, n_rows, seed, solve)
        return found[0], found[1], used_pos

    def project(self, basis: FloatArray, used_pos: IntArray, n_rows: int) -> FloatArray:
        """The first ``n_rows`` rows of the centred matrix projected on ``basis`` (one row per
        used column)."""
        result: FloatArray = self.centred[:n_rows][:, used_pos] @ basis
        return result

    def _full(
        self, used_pos: IntArray, n_rows: int, seed: int, solve: Eigensolver
    ) -> tuple[FloatArray, FloatArray]:
        """The cold eigendecomposition over the used columns; it also resets the bound on the
        third eigenvalue."""
        self.full_solves += 1
        m = used_pos.size
        cov = self.cov[np.ix_(used_pos, used_pos)]
        n_comp = min(2, m, n_rows)
        w, vecs = solve(cov, n_comp, seed)
        if m >= REFINE_MIN_COLUMNS:
            third = scipy.linalg.eigvalsh(cov, subset_by_index=[m - 3, m - 3])
            self.third_bound = float(third[0])
        else:
            self.third_bound = np.inf
        return w, vecs

    def _refined(self, start: FloatArray) -> tuple[FloatArray, FloatArray] | None:
        """The two leading eigenpairs refined from ``start`` (m x 2), or None when they are
        not certainly the leading ones (see the module docstring)."""
        if np.any(np.einsum("ij,ij->j", start, start) == 0.0):
            return None
        result = _krylov(self.cov, start)
        if result is None:
            return None
        w, vecs = result
        if not w[1] > 0.0 or self.third_bound >= w[1] * (1.0 - GAP_MARGIN):
            return None
        self.refined += 1
        return w, vecs


def _krylov(cov: FloatArray, start: FloatArray) -> tuple[FloatArray, FloatArray] | None:
    """The two largest eigenpairs of ``cov`` by block Lanczos from ``start`` (m x 2): the
    Rayleigh-Ritz pairs of the block Krylov space of :data:`KRYLOV_BLOCKS` blocks, restarted
    from them; None when the residuals do not fall below RESIDUAL_TOL * theta_1 within
    :data:`MAX_RESTARTS` restarts."""
    first = _orthonormal_pair(start, 0.0)
    if first is None:
        return None
    v, scale = first, float(np.abs(cov).max())
    for _ in range(MAX_RESTARTS):
        basis, images = v, []
        block = v
        for step in range(KRYLOV_BLOCKS):
            image = cov @ block
            images.append(image)
            if step == KRYLOV_BLOCKS - 1:
                break
            image = image - basis @ (basis.T @ image)
            image = image - basis @ (basis.T @ image)  # twice: full reorthogonalisation
            pair = _orthonormal_pair(image, 1e-13 * scale)
            if pair is None:
                break  # the space is (numerically) invariant
            block = pair
            basis = np.concatenate((basis, block), axis=1)
        width = 2 * len(images)
        basis = basis[:, :width]
        stacked = np.concatenate(images, axis=1)
        h = basis.T @ stacked
        theta, y = np.linalg.eigh((h + h.T) * 0.5)
        theta, y = theta[:-3:-1], y[:, :-3:-1]
        v, image = basis @ y, stacked @ y
        resid = image - v * theta
        worst = float(np.sqrt(np.einsum("ij,ij->j", resid, resid)).max())
        if not theta[0] > 0.0:
            return None
        if worst <= RESIDUAL_TOL * float(theta[0]):
            return theta, v
    return None


def _orthonormal_pair(pair: FloatArray, floor: float) -> FloatArray | None:
    """Gram-Schmidt (twice) on the two columns of ``pair``; None when a column's remaining
    norm is at most ``floor``."""
    first, second = pair[:, 0], pair[:, 1]
    n1 = math.sqrt(first @ first)  # IEEE square roots: the same as NumPy's
    if not n1 > floor:
        return None
    first = first / n1
    second = second - first * float(first @ second)
    second -= first * float(first @ second)
    n2 = math.sqrt(second @ second)
    if not n2 > floor:
        return None
    out = np.empty_like(pair)
    out[:, 0] = first
    np.divide(second, n2, out=out[:, 1])
    return out
