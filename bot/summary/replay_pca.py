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
* the two leading eigenvectors of ``C`` are refined from the previous ones by block Lanczos
  (Rayleigh-Ritz over a block Krylov space, restarted) until every residual is below
  :data:`RESIDUAL_TOL` times the top eigenvalue;
* a refined pair is only trusted if no third eigenvalue can have overtaken the second: the
  third eigenvalue is known exactly at the last full eigendecomposition, and by Weyl's
  inequality it has moved since by at most the summed norms of the changes to ``C``. When
  that bound comes within :data:`GAP_MARGIN` of the second eigenvalue, or the refinement does
  not converge, the update falls back to the full eigendecomposition of a cold analysis.

The PCA of an update depends on the votes only, not on the clusterings, so updates are
queued (:meth:`WarmPCA.mark`) and refined together (:meth:`WarmPCA.solve`): up to
:data:`BATCH_BYTES` of Gram matrices, one per update, go through the same array operations,
each from the components the replay had before the first of them. The projection of each
update is taken on a second copy of the centred matrix that follows the queued updates one by
one (:meth:`WarmPCA.project`).

With the compiled kernels (``bot/summary/_kernels/lanczos.pyx``, built at install when a C
compiler is there) nothing is queued: each update is refined on its own, from the components
of the update just before it, over its used columns only (the Gram matrix's other rows are
zero), and projected on the centred matrix itself; applying the votes (recentring the columns
they touch, their rows of ``C`` and the change's norm) is compiled too. The refinement is the
same algorithm, so both paths give the same components to within its tolerance.

The bound on the third eigenvalue is the last full eigendecomposition's third eigenvalue plus
the summed norms of the changes since; when that sum comes too close, it is replaced by the
norm of the whole change since then (:meth:`WarmPCA._trusted`), which is smaller when changes
undo each other, before a full eigendecomposition is paid for.

Only for conversations whose dense centred matrix is small (the cold analysis's own dense
limit); larger ones replay with the from-scratch PCA.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import scipy.linalg

from bot.summary._kernels import load

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

RESIDUAL_TOL = 1e-8  # refined when every ||C v - theta v|| <= this * theta_1
KRYLOV_BLOCKS = 8  # blocks of two vectors in the first Krylov space
# ... and in the spaces of the restarts: they start from Ritz vectors close to converging.
RESTART_BLOCKS = 4
MAX_RESTARTS = 4
# Below this many used columns a full eigendecomposition is as cheap as the refinement.
REFINE_MIN_COLUMNS = 64
GAP_MARGIN = 1e-6  # the third eigenvalue's bound must stay below theta_2 * (1 - this)
BATCH_BYTES = 8 << 20  # the queued updates' Gram matrices, at most (and at most BATCH_MAX)
BATCH_MAX = 32

# The compiled block Lanczos (one matrix at a time), when it was built.
_LANCZOS = load("lanczos")

# (cov over the used columns, n_comp, seed) -> (eigenvalues, eigenvectors), largest first
Eigensolver = Callable[[FloatArray, int, int], tuple[FloatArray, FloatArray]]


@dataclass
class WarmStep:
    """One queued update's PCA: what it needs (its Gram matrix's slot, the centred columns
    changed since the previous update, the votes per row, the Weyl step of the third
    eigenvalue's bound) and, once solved, its components."""

    seq: int
    slot: int
    n_rows: int
    used_pos: IntArray  # the used columns, by their position in WarmPCA.columns
    row_votes: IntArray
    bound_step: float
    changes: list[tuple[IntArray, FloatArray]]
    values: FloatArray = field(default_factory=lambda: np.zeros(0))  # largest first
    vectors: FloatArray = field(default_factory=lambda: np.zeros((0, 0)))  # used x n_comp


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
        self.sums = np.zeros(m)  # of the current votes, per column
        self.row_votes = np.zeros(n_rows, np.int64)
        self.third_bound = np.inf  # an upper bound of the third eigenvalue of cov
        # The Gram matrix and its third eigenvalue at the last full eigendecomposition.
        self._full_cov: FloatArray | None = None
        self._full_third = np.inf
        # Compiled, one update at a time is cheaper: each starts from the one before.
        stacked = max(1, min(BATCH_MAX, BATCH_BYTES // max(8 * m * m, 1)))
        self.capacity = 1 if _LANCZOS is not None else stacked
        self._stack = np.zeros((self.capacity, m, m)) if self.capacity > 1 else None
        # The centred matrix as of the last update projected (it follows the queue; a queue
        # of one projects each update on the centred matrix itself).
        self.lagging = np.zeros((n_rows, m), order="F") if self._stack is not None else None
        self._queue: list[WarmStep] = []
        self._changes: list[tuple[IntArray, FloatArray]] = []
        self._bound_step = 0.0
        self._seq = 0
        self._unprojected: list[WarmStep] = []
        self.full_solves = 0
        self.refined = 0

    def apply(self, rows: IntArray, cols: IntArray, vals: FloatArray, fresh: BoolArray) -> None:
        """Set the current votes of the given (row, stream column) slots; ``fresh`` marks the
        slots voted for the first time."""
        if _LANCZOS is not None and self._stack is None:  # a queue of one, compiled
            self._bound_step += _LANCZOS.apply_votes(
                self.values,
                self.voted,
                self.centred,
                self.cov,
                self.sums,
                self.counts,
                self.row_votes,
                self.position,
                rows,
                cols,
                vals,
                fresh.view(np.uint8),
            )
            return
        pos = self.position[cols]
        keep = pos >= 0
        if not keep.all():
            rows, pos, vals, fresh = rows[keep], pos[keep], vals[keep], fresh[keep]
        if not rows.size:
            return
        # Votes are -1, 0 or 1: their sums per column are exact however they are added up.
        self.sums += np.bincount(
            pos, weights=vals - self.values[rows, pos], minlength=self.sums.size
        )
        self.values[rows, pos] = vals
        self.voted[rows, pos] = 1.0
        if fresh.any():
            np.add.at(self.row_votes, rows[fresh], 1)
            np.add.at(self.counts, pos[fresh], 1.0)
        touched = np.flatnonzero(np.bincount(pos, minlength=self.sums.size))
        voted = self.voted[:, touched]
        changed = (self.values[:, touched] - self.sums[touched] / self.counts[touched]) * voted
        self.centred[:, touched] = changed
        if self._stack is not None:
            self._changes.append((touched, changed))
        old = self.cov[touched]
        new = changed.T @ self.centred
        self.cov[touched] = new
        self.cov[:, touched] = new.T
        diff = new - old
        inner = diff[:, touched]
        # Frobenius norm of the symmetric change: bounds how far any eigenvalue moved.
        moved = 2.0 * float(np.einsum("ij,ij->", diff, diff)) - float(
            np.einsum("ij,ij->", inner, inner)
        )
        self._bound_step += float(np.sqrt(max(moved, 0.0)))

    def mark(self, n_rows: int) -> WarmStep:
        """Queue an update of the first ``n_rows`` participants on the votes applied so far;
        at most :attr:`capacity` are queued before :meth:`solve`."""
        assert len(self._queue) < self.capacity
        slot = len(self._queue)
        if self._stack is not None:
            self._stack[slot] = self.cov
        step = WarmStep(
            self._seq,
            slot,
            n_rows,
            np.flatnonzero(self.counts > 0),
            self.row_votes[:n_rows].copy(),
            self._bound_step,
            self._changes,
        )
        self._seq += 1
        self._changes, self._bound_step = [], 0.0
        self._queue.append(step)
        if self._stack is not None:
            self._unprojected.append(step)
        return step

    def solve(self, prev: FloatArray | None, seed: int, solve: Eigensolver) -> list[WarmStep]:
        """The components of every queued update -- what the cold PCA finds, signs aside --
        refined from ``prev`` (the components over the stream columns before the first of
        them); ``solve`` is the cold eigensolver. Empties the queue."""
        steps, self._queue = self._queue, []
        if _LANCZOS is not None and self._stack is None and len(steps) == 1:
            self._solve_one(steps[0], prev, seed, solve)
            return steps
        refined: dict[int, tuple[FloatArray, FloatArray]] = {}
        if prev is not None and steps:
            start = np.zeros((self.columns.size, 2))
            inside = self.columns < prev.shape[1]
            start[inside] = prev[:, self.columns[inside]].T
            refinable = [
                s for s in steps if s.used_pos.size >= REFINE_MIN_COLUMNS and s.n_rows >= 3
            ]
            if refinable and np.all(np.einsum("ij,ij->j", start, start) > 0.0):
                refined = self._refined(refinable, start)
        for step in steps:
            self.third_bound += step.bound_step
            if step.n_rows < 2 or not step.used_pos.size:
                continue  # nothing to project: the replay's map stays empty
            found = refined.get(step.slot)
            if found is not None and self._trusted(step, found[0]):
                w, vecs = found
            else:
                w, vecs = self._full(step, seed, solve)
            step.values, step.vectors = w, vecs
        return steps

    def _solve_one(
        self, step: WarmStep, prev: FloatArray | None, seed: int, solve: Eigensolver
    ) -> None:
        """:meth:`solve` for a queue of one, with the compiled refinement."""
        assert _LANCZOS is not None
        self.third_bound += step.bound_step
        if step.n_rows < 2 or not step.used_pos.size:
            return  # nothing to project: the replay's map stays empty
        if prev is not None and step.used_pos.size >= REFINE_MIN_COLUMNS and step.n_rows >= 3:
            ok, theta, vecs = _LANCZOS.krylov(
                self.cov,
                step.used_pos,
                prev,
                self.columns,
                KRYLOV_BLOCKS,
                RESTART_BLOCKS,
                MAX_RESTARTS,
                RESIDUAL_TOL,
            )
            if ok and self._trusted(step, theta):
                step.values, step.vectors = theta, vecs.T
                return
        step.values, step.vectors = self._full(step, seed, solve)

    def components(
        self, prev: FloatArray | None, n_rows: int, seed: int, solve: Eigensolver
    ) -> WarmStep:
        """One update solved on its own (:meth:`mark` then :meth:`solve`)."""
        step = self.mark(n_rows)
        self.solve(prev, seed, solve)
        return step

    def project(self, step: WarmStep, basis: FloatArray) -> FloatArray:
        """The first ``step.n_rows`` rows of the centred matrix of ``step``'s update projected
        on ``basis`` (one row per used column). Steps are projected in the order queued."""
        if self._stack is None:  # a queue of one: the centred matrix is the step's
            if _LANCZOS is not None:
                projected: FloatArray = _LANCZOS.project(
                    self.centred, step.n_rows, step.used_pos, basis
                )
                return projected
            return self._projected(self.centred[: step.n_rows], step, basis)
        assert self.lagging is not None
        while self._unprojected and self._unprojected[0].seq <= step.seq:
            for touched, changed in self._unprojected.pop(0).changes:
                self.lagging[:, touched] = changed
        return self._projected(self.lagging[: step.n_rows], step, basis)

    def _projected(self, rows: FloatArray, step: WarmStep, basis: FloatArray) -> FloatArray:
        if step.used_pos.size == self.columns.size:  # every column: no copy of the matrix
            result: FloatArray = rows @ basis
        else:
            result = rows[:, step.used_pos] @ basis
        return result

    def _cov_of(self, step: WarmStep) -> FloatArray:
        return self.cov if self._stack is None else self._stack[step.slot]

    def _trusted(self, step: WarmStep, theta: FloatArray) -> bool:
        """Whether ``step``'s refined eigenvalues ``theta`` can be kept: no third eigenvalue
        can have overtaken the second. The running bound is first tightened, when it is too
        close, to the norm of the whole change since the last full eigendecomposition (Weyl:
        ||C - C_full||_F; each change can undo part of the one before)."""
        limit = float(theta[1]) * (1 - GAP_MARGIN)
        if self.third_bound >= limit and self._full_cov is not None:
            moved = float(np.linalg.norm(self._cov_of(step) - self._full_cov))
            self.third_bound = min(self.third_bound, self._full_third + moved)
        if theta[1] > 0.0 and self.third_bound < limit:
            self.refined += 1
            return True
        return False

    def _full(
        self, step: WarmStep, seed: int, solve: Eigensolver
    ) -> tuple[FloatArray, FloatArray]:
        """The cold eigendecomposition over the used columns; it also resets the bound on the
        third eigenvalue."""
        self.full_solves += 1
        used_pos = step.used_pos
        m = used_pos.size
        cov = self._cov_of(step)[np.ix_(used_pos, used_pos)]
        n_comp = min(2, m, step.n_rows)
        w, vecs = solve(cov, n_comp, seed)
        if m >= REFINE_MIN_COLUMNS:
            third = scipy.linalg.eigvalsh(cov, subset_by_index=[m - 3, m - 3])
            self.third_bound = self._full_third = float(third[0])
            self._full_cov = self._cov_of(step).copy()
        else:
            self.third_bound = self._full_third = np.inf
            self._full_cov = None
        return w, vecs

    def _refined(
        self, steps: list[WarmStep], start: FloatArray
    ) -> dict[int, tuple[FloatArray, FloatArray]]:
        """The two leading eigenpairs of the queued Gram matrices of ``steps``, refined from
        ``start`` (m x 2), for those where the refinement converged: eigenvalues and
        eigenvectors over each step's used columns, by slot."""
        slots = [s.slot for s in steps]
        if self._stack is None:
            covs = self.cov[None]
        elif slots == list(range(len(slots))):
            covs = self._stack[: len(slots)]
        else:
            covs = self._stack[slots]
        ok, theta, vecs = _krylov(covs, start)
        every = self.columns.size
        return {
            s.slot: (theta[i], vecs[i] if s.used_pos.size == every else vecs[i][s.used_pos])
            for i, s in enumerate(steps)
            if ok[i]
        }


def _krylov(covs: FloatArray, start: FloatArray) -> tuple[BoolArray, FloatArray, FloatArray]:
    """The two largest eigenpairs of each of ``covs`` (k x m x m) by block Lanczos from
    ``start`` (m x 2): the Rayleigh-Ritz pairs of the block Krylov space of
    :data:`KRYLOV_BLOCKS` blocks, restarted from them (:data:`RESTART_BLOCKS` blocks then).
    Returns (converged: the residuals fell below RESIDUAL_TOL * theta_1 within
    :data:`MAX_RESTARTS` restarts; eigenvalues k x 2, largest first; eigenvectors k x m x 2)."""
    k, m = covs.shape[0], covs.shape[1]
    ok = np.zeros(k, np.bool_)
    theta_out = np.zeros((k, 2))
    vecs_out = np.zeros((k, m, 2))
    first, alive = _orthonormal_pairs(start[None], np.zeros(1))
    if not alive[0]:
        return ok, theta_out, vecs_out
    # Gram matrices are positive semi-definite: their largest entry is on the diagonal.
    scale = np.einsum("kii->ki", covs).max(axis=1)
    todo = np.arange(k)
    v = np.broadcast_to(first, (k, m, 2))
    blocks = KRYLOV_BLOCKS
    for _ in range(MAX_RESTARTS):
        mats = covs if todo.size == k else covs[todo]
        n, width = todo.size, 2 * blocks
        basis = np.empty((n, m, width))
        images = np.empty((n, m, width))
        basis[:, :, :2] = v
        block: FloatArray = basis[:, :, :2]
        floor = 1e-13 * scale[todo]
        for step in range(blocks):
            image = mats @ block
            images[:, :, 2 * step : 2 * step + 2] = image
            if step == blocks - 1:
                break
            used = basis[:, :, : 2 * step + 2]
            image = image - used @ (used.transpose(0, 2, 1) @ image)
            image = image - used @ (used.transpose(0, 2, 1) @ image)  # full reorthogonalisation
            # A block that vanishes (the space is numerically invariant) stays zero: its
            # images are zero too and add nothing to the Rayleigh-Ritz pairs.
            block, _ = _orthonormal_pairs(image, floor)
            basis[:, :, 2 * step + 2 : 2 * step + 4] = block
        h = basis.transpose(0, 2, 1) @ images
        theta, y = np.linalg.eigh((h + h.transpose(0, 2, 1)) * 0.5)
        theta, y = theta[:, :-3:-1], y[:, :, :-3:-1]
        v, image = basis @ y, images @ y
        resid = image - v * theta[:, None, :]
        worst = np.sqrt(np.einsum("kij,kij->kj", resid, resid)).max(axis=1)
        positive = theta[:, 0] > 0.0
        done = positive & (worst <= RESIDUAL_TOL * theta[:, 0])
        ok[todo[done]] = True
        theta_out[todo[done]] = theta[done]
        vecs_out[todo[done]] = v[done]
        again = positive & ~done
        todo, v = todo[again], v[again]
        if not todo.size:
            break
        blocks = RESTART_BLOCKS
    return ok, theta_out, vecs_out


def _orthonormal_pairs(pairs: FloatArray, floor: FloatArray) -> tuple[FloatArray, BoolArray]:
    """Gram-Schmidt (twice) on the two columns of each of ``pairs`` (k x m x 2), and which
    are alive: both columns' remaining norms above their ``floor`` (k); the others are
    returned as zeros."""
    first, second = pairs[:, :, 0], pairs[:, :, 1]
    n1 = np.sqrt(np.einsum("ij,ij->i", first, first))
    alive = n1 > floor
    first = first / np.where(alive, n1, 1.0)[:, None]
    second = second - first * np.einsum("ij,ij->i", first, second)[:, None]
    second = second - first * np.einsum("ij,ij->i", first, second)[:, None]
    n2 = np.sqrt(np.einsum("ij,ij->i", second, second))
    alive &= n2 > floor
    out = np.empty_like(pairs)
    out[:, :, 0] = first
    out[:, :, 1] = second / np.where(alive, n2, 1.0)[:, None]
    out[~alive] = 0.0
    return out, alive
