# cython: language_level=3
"""The replay's warm PCA, compiled (see ``bot/summary/replay_pca.py``): block Lanczos for the
two leading eigenpairs of one Gram matrix (``replay_pca._krylov`` for a single matrix), the
votes applied to the centred matrix and its Gram matrix, the components' signs and the
projection.

The NumPy version refines a stack of queued Gram matrices at once, because one NumPy call per
vector operation costs more than the arithmetic at this size. Compiled, one matrix at a time
is cheaper: each update starts from the components of the update just before it, over its
used columns only, on a matrix that stays in cache.

The algorithm is the NumPy version's, step for step: blocks of two vectors, full
reorthogonalisation (twice), blocks that vanish kept as zeros, Rayleigh-Ritz over the whole
space (LAPACK ``dsyevr``, the two largest pairs), restarts from the two leading Ritz vectors.
Its results are the same eigenpairs to within the residual tolerance, not the same bits: the
Krylov spaces start from other vectors and the sums are taken in another order.
"""

from libc.math cimport sqrt
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset
from scipy.linalg.cython_blas cimport dgemm
from scipy.linalg.cython_lapack cimport dsyevr

import numpy as np

DEF MAX_WIDTH = 64  # vectors in a Krylov space (2 per block)


cdef int _normalised(double *vec, int m, double floor) noexcept nogil:
    """vec scaled to unit length in place; 0 (vec left as is) when its norm is not above
    ``floor``."""
    cdef double norm = 0.0
    cdef int i
    for i in range(m):
        norm += vec[i] * vec[i]
    norm = sqrt(norm)
    if not norm > floor:
        return 0
    for i in range(m):
        vec[i] /= norm
    return 1


cdef int _orthonormal_pair(double *first, double *second, int m, double floor) noexcept nogil:
    """Gram-Schmidt (twice) on two vectors of length m, in place; 1 when both remaining norms
    exceed ``floor``, else 0 and both are zeroed."""
    cdef double dot
    cdef int i, rep
    if _normalised(first, m, floor):
        for rep in range(2):
            dot = 0.0
            for i in range(m):
                dot += first[i] * second[i]
            for i in range(m):
                second[i] -= first[i] * dot
        if _normalised(second, m, floor):
            return 1
    memset(first, 0, m * sizeof(double))
    memset(second, 0, m * sizeof(double))
    return 0


cdef void _product(const double *cov, double *vecs, double *out, int m) noexcept nogil:
    """out (two vectors of length m, one after the other) = cov @ vecs, as a sum of cov's
    columns (its rows: it is symmetric), four at a time, so that the compiler vectorises it
    without reassociating any sum. (BLAS's general product is slower for two columns.)"""
    cdef int i, j = 0
    cdef double a0, a1, a2, a3, b0, b1, b2, b3
    cdef const double *r0
    cdef const double *r1
    cdef const double *r2
    cdef const double *r3
    cdef double *out0 = out
    cdef double *out1 = out + m
    memset(out, 0, 2 * m * sizeof(double))
    while j + 4 <= m:
        r0 = cov + j * m
        r1 = r0 + m
        r2 = r1 + m
        r3 = r2 + m
        a0, a1, a2, a3 = vecs[j], vecs[j + 1], vecs[j + 2], vecs[j + 3]
        b0, b1, b2, b3 = vecs[m + j], vecs[m + j + 1], vecs[m + j + 2], vecs[m + j + 3]
        for i in range(m):
            out0[i] += (r0[i] * a0 + r1[i] * a1) + (r2[i] * a2 + r3[i] * a3)
            out1[i] += (r0[i] * b0 + r1[i] * b1) + (r2[i] * b2 + r3[i] * b3)
        j += 4
    while j < m:
        r0 = cov + j * m
        a0 = vecs[j]
        b0 = vecs[m + j]
        for i in range(m):
            out0[i] += r0[i] * a0
            out1[i] += r0[i] * b0
        j += 1


cdef inline void _dots(
    const double *a, const double *x, const double *y, int m, double *ax, double *ay
) noexcept nogil:
    """a . x and a . y, each summed in four interleaved partial sums (the single running sum
    of a plain loop waits on every addition)."""
    cdef double x0 = 0.0, x1 = 0.0, x2 = 0.0, x3 = 0.0
    cdef double y0 = 0.0, y1 = 0.0, y2 = 0.0, y3 = 0.0
    cdef int i = 0
    while i + 4 <= m:
        x0 += a[i] * x[i]
        x1 += a[i + 1] * x[i + 1]
        x2 += a[i + 2] * x[i + 2]
        x3 += a[i + 3] * x[i + 3]
        y0 += a[i] * y[i]
        y1 += a[i + 1] * y[i + 1]
        y2 += a[i + 2] * y[i + 2]
        y3 += a[i + 3] * y[i + 3]
        i += 4
    while i < m:
        x0 += a[i] * x[i]
        y0 += a[i] * y[i]
        i += 1
    ax[0] = (x0 + x1) + (x2 + x3)
    ay[0] = (y0 + y1) + (y2 + y3)


cdef void _orthogonalise(double *basis, int used, double *image, int m) noexcept nogil:
    """image (two vectors) -= its projections on basis[:used], twice (full
    reorthogonalisation)."""
    cdef int rep, p, i
    cdef double c0, c1
    cdef double *vec
    cdef double *img0 = image
    cdef double *img1 = image + m
    cdef double coef[2 * MAX_WIDTH]
    for rep in range(2):
        for p in range(used):
            _dots(basis + p * m, img0, img1, m, &coef[2 * p], &coef[2 * p + 1])
        for p in range(used):
            vec = basis + p * m
            c0 = coef[2 * p]
            c1 = coef[2 * p + 1]
            for i in range(m):
                img0[i] -= vec[i] * c0
                img1[i] -= vec[i] * c1


def krylov(
    const double[:, ::1] cov,
    const long[::1] used,
    const double[:, :] prev,
    const long[::1] columns,
    int first_blocks,
    int restart_blocks,
    int max_restarts,
    double tol,
):
    """The two largest eigenpairs of the symmetric ``cov`` (m x m) restricted to the rows
    and columns ``used`` (the others are zero), from the previous components ``prev``
    (2 x n, over the stream's columns: ``columns`` gives the stream column of each of the m):
    (converged, eigenvalues (2,), eigenvectors over the used columns (2 x used)), as
    ``replay_pca._krylov`` defines them for one matrix. A start that vanishes over the used
    columns does not converge."""
    cdef int m = cov.shape[0]
    cdef int mu = used.shape[0]
    cdef int width = prev.shape[1]
    cdef int blocks = first_blocks
    cdef int cycle, r, i, j, ok = 0
    cdef long col
    cdef const double *row
    cdef double scale = 0.0, worst
    cdef double theta[2]
    cdef double resid[2]
    if prev.shape[0] != 2 or columns.shape[0] != m or mu == 0 or cov.shape[1] != m:
        raise ValueError("prev must be 2 x n, columns of length m for an m x m matrix")
    for i in range(mu):
        if used[i] < 0 or used[i] >= m:
            raise ValueError("used column out of range")
    if max(first_blocks, restart_blocks) * 2 > MAX_WIDTH or min(first_blocks, restart_blocks) < 1:
        raise ValueError("blocks out of range")
    theta_out = np.zeros(2)
    vecs_out = np.zeros((2, mu))
    cdef double[::1] theta_view = theta_out
    cdef double[:, ::1] vecs_view = vecs_out
    cdef double *compact = <double *>malloc(mu * mu * sizeof(double))
    cdef double *basis = <double *>malloc(MAX_WIDTH * mu * sizeof(double))
    # The images of the space, and one more vector: the Ritz pair's image (scratch).
    cdef double *images = <double *>malloc((MAX_WIDTH + 1) * mu * sizeof(double))
    cdef double *vecs = <double *>malloc(2 * mu * sizeof(double))
    if compact == NULL or basis == NULL or images == NULL or vecs == NULL:
        free(compact)
        free(basis)
        free(images)
        free(vecs)
        raise MemoryError()
    try:
        with nogil:
            for i in range(mu):
                row = &cov[used[i], 0]
                for j in range(mu):
                    compact[i * mu + j] = row[used[j]]
                if compact[i * mu + i] > scale:
                    scale = compact[i * mu + i]
                col = columns[used[i]]
                basis[i] = prev[0, col] if 0 <= col < width else 0.0
                basis[mu + i] = prev[1, col] if 0 <= col < width else 0.0
            if _orthonormal_pair(basis, basis + mu, mu, 0.0):
                for cycle in range(max_restarts):
                    if not _ritz(compact, mu, blocks, 1e-13 * scale, basis, images,
                                 theta, vecs, resid):
                        break
                    if not theta[0] > 0.0:
                        break
                    worst = resid[0] if resid[0] > resid[1] else resid[1]
                    if worst <= tol * theta[0]:
                        ok = 1
                        break
                    memcpy(basis, vecs, 2 * mu * sizeof(double))
                    blocks = restart_blocks
        if ok:
            theta_view[0] = theta[0]
            theta_view[1] = theta[1]
            for r in range(2):
                for i in range(mu):
                    vecs_view[r, i] = vecs[r * mu + i]
        return bool(ok), theta_out, vecs_out
    finally:
        free(compact)
        free(basis)
        free(images)
        free(vecs)


cdef int _ritz(
    const double *cov, int m, int blocks, double floor, double *basis, double *images,
    double *theta, double *vecs, double *resid
) noexcept nogil:
    """One Krylov space of ``blocks`` blocks from the two vectors at ``basis``, its two
    leading Ritz pairs (``theta``, ``vecs``) and their residual norms ||cov v - theta v||
    (cov v as the Ritz combination of the images, as the NumPy version takes it). Returns 0
    when LAPACK failed."""
    cdef int width = 2 * blocks
    cdef int p, q, i, r, step, info = 0
    cdef double s, y
    cdef double h[MAX_WIDTH * MAX_WIDTH]
    cdef double w[MAX_WIDTH]
    cdef double z[2 * MAX_WIDTH]
    cdef double work[26 * MAX_WIDTH]
    cdef int iwork[10 * MAX_WIDTH]
    cdef int isuppz[4]
    cdef int lwork = 26 * MAX_WIDTH, liwork = 10 * MAX_WIDTH
    cdef int lowest = width - 1, found = 0
    cdef double unused = 0.0, abstol = 0.0
    cdef char jobz = b'V', uplo = b'L', range_i = b'I', trans_t = b'T', trans_n = b'N'
    cdef double one = 1.0, zero = 0.0
    cdef double *img
    cdef double *vec
    cdef double *ritz_image = images + width * m  # scratch past the space's images
    for step in range(blocks):
        _product(cov, basis + 2 * step * m, images + 2 * step * m, m)
        if step == blocks - 1:
            break
        img = basis + (2 * step + 2) * m
        memcpy(img, images + 2 * step * m, 2 * m * sizeof(double))
        _orthogonalise(basis, 2 * step + 2, img, m)
        _orthonormal_pair(img, img + m, m, floor)
    # h[q, p] (column-major) = images[q] . basis[p]: one BLAS product.
    dgemm(&trans_t, &trans_n, &width, &width, &m, &one, images, &m, basis, &m, &zero, h, &width)
    for p in range(width):
        for q in range(p):
            s = (h[p * width + q] + h[q * width + p]) * 0.5
            h[p * width + q] = s
            h[q * width + p] = s
    # The two largest eigenpairs only (il..iu, 1-based, ascending): w[1] >= w[0].
    dsyevr(&jobz, &range_i, &uplo, &width, h, &width, &unused, &unused, &lowest, &width,
           &abstol, &found, w, z, &width, isuppz, work, &lwork, iwork, &liwork, &info)
    if info != 0 or found != 2:
        return 0
    for r in range(2):
        theta[r] = w[1 - r]
        vec = vecs + r * m
        memset(vec, 0, m * sizeof(double))
        memset(ritz_image, 0, m * sizeof(double))
        for p in range(width):
            y = z[(1 - r) * width + p]  # eigenvector 1 - r, column-major
            for i in range(m):
                vec[i] += y * basis[p * m + i]
                ritz_image[i] += y * images[p * m + i]
        s = 0.0
        for i in range(m):
            y = ritz_image[i] - theta[r] * vec[i]
            s += y * y
        resid[r] = sqrt(s)
    return 1


def signed_basis(
    const double[::1] w, const double[:, :] vecs, const long[::1] used, prev
):
    """``analysis._signed_basis``: the components over the ``used`` columns (m x 2), each
    signed like ``prev`` (2 x n, or None) or with its largest coordinate positive; zero where
    no variance is left."""
    cdef int m = used.shape[0]
    cdef int k = w.shape[0]
    cdef int i, j, far
    cdef long width = 0
    cdef double top, dot, norm, sign, best
    if vecs.shape[0] != m or vecs.shape[1] < k or k > 2:
        raise ValueError("vecs must be m x k, k <= 2")
    basis = np.zeros((m, 2))
    cdef double[:, ::1] out = basis
    cdef const double[:, :] ref
    if prev is not None:
        ref = prev
        width = ref.shape[1]
        if ref.shape[0] < k:
            raise ValueError("prev must have a row per component")
    top = w[0] if k and w[0] > 1.0 else 1.0
    for i in range(k):
        if w[i] <= 1e-12 * top:
            continue  # no variance left in this direction
        dot = 0.0
        norm = 0.0
        if width:
            for j in range(m):
                if used[j] < width:
                    norm += ref[i, used[j]] * ref[i, used[j]]
                    dot += ref[i, used[j]] * vecs[j, i]
        if norm > 0.0:
            sign = 1.0 if dot >= 0.0 else -1.0
        else:
            far = 0
            best = -1.0
            for j in range(m):
                if abs(vecs[j, i]) > best:
                    best = abs(vecs[j, i])
                    far = j
            sign = 1.0 if vecs[far, i] >= 0.0 else -1.0
        for j in range(m):
            out[j, i] = sign * vecs[j, i]
    return basis


def project(
    const double[::1, :] centred, int n_rows, const long[::1] used, const double[:, ::1] basis
):
    """The first ``n_rows`` rows of the column-major ``centred`` over the columns ``used``,
    projected on ``basis`` (used x 2): n_rows x 2, the sums taken four columns at a time."""
    cdef int mu = used.shape[0]
    cdef int j, r
    cdef double a0, a1, a2, a3, b0, b1, b2, b3
    cdef const double *c0
    cdef const double *c1
    cdef const double *c2
    cdef const double *c3
    if basis.shape[0] != mu or basis.shape[1] != 2 or n_rows > centred.shape[0]:
        raise ValueError("basis must be used x 2, n_rows within the matrix")
    for j in range(mu):
        if used[j] < 0 or used[j] >= centred.shape[1]:
            raise ValueError("used column out of range")
    result = np.zeros((n_rows, 2))
    cdef double[:, ::1] out = result
    cdef double *acc = <double *>malloc(2 * max(n_rows, 1) * sizeof(double))
    if acc == NULL:
        raise MemoryError()
    memset(acc, 0, 2 * n_rows * sizeof(double))
    with nogil:
        j = 0
        while j + 4 <= mu:
            c0 = &centred[0, used[j]]
            c1 = &centred[0, used[j + 1]]
            c2 = &centred[0, used[j + 2]]
            c3 = &centred[0, used[j + 3]]
            a0, a1, a2, a3 = basis[j, 0], basis[j + 1, 0], basis[j + 2, 0], basis[j + 3, 0]
            b0, b1, b2, b3 = basis[j, 1], basis[j + 1, 1], basis[j + 2, 1], basis[j + 3, 1]
            for r in range(n_rows):
                acc[r] += (c0[r] * a0 + c1[r] * a1) + (c2[r] * a2 + c3[r] * a3)
                acc[n_rows + r] += (c0[r] * b0 + c1[r] * b1) + (c2[r] * b2 + c3[r] * b3)
            j += 4
        while j < mu:
            c0 = &centred[0, used[j]]
            a0 = basis[j, 0]
            b0 = basis[j, 1]
            for r in range(n_rows):
                acc[r] += c0[r] * a0
                acc[n_rows + r] += c0[r] * b0
            j += 1
        for r in range(n_rows):
            out[r, 0] = acc[r]
            out[r, 1] = acc[n_rows + r]
    free(acc)
    return result


def apply_votes(
    double[::1, :] values,
    double[::1, :] voted,
    double[::1, :] centred,
    double[:, ::1] cov,
    double[::1] sums,
    double[::1] counts,
    long[::1] row_votes,
    const long[::1] position,
    const long[:] rows,
    const long[:] cols,
    const double[:] vals,
    const unsigned char[:] fresh,
):
    """``WarmPCA.apply`` for a queue of one: set the current votes of the (row, stream
    column) slots (each slot at most once), recentre the columns they touch and recompute
    those columns' rows and columns of the Gram matrix ``cov``. Returns the Frobenius norm
    of the change to ``cov`` (0 when no column changed)."""
    cdef int n = values.shape[0]
    cdef int m = values.shape[1]
    cdef int e, p, q, k, i, t = 0, info
    cdef long r, c
    cdef double mean, d, moved = 0.0
    cdef char trans_t = b'T', trans_n = b'N'
    cdef double one = 1.0, zero = 0.0
    cdef int votes = rows.shape[0]
    if cols.shape[0] != votes or vals.shape[0] != votes or fresh.shape[0] != votes:
        raise ValueError("rows, cols, vals and fresh must have one entry per vote")
    if cov.shape[0] != m or cov.shape[1] != m or sums.shape[0] != m or counts.shape[0] != m:
        raise ValueError("cov, sums and counts must match the matrix's columns")
    if voted.shape[0] != n or centred.shape[0] != n or row_votes.shape[0] != n:
        raise ValueError("voted, centred and row_votes must match the matrix's rows")
    for e in range(votes):
        if rows[e] < 0 or rows[e] >= n or cols[e] < 0 or cols[e] >= position.shape[0]:
            raise ValueError("vote out of range")
        if position[cols[e]] >= m:
            raise ValueError("position out of range")
    cdef unsigned char *mark = <unsigned char *>malloc(m)
    cdef int *touched = <int *>malloc(m * sizeof(int))
    cdef double *changed = NULL
    cdef double *new = NULL
    if mark == NULL or touched == NULL:
        free(mark)
        free(touched)
        raise MemoryError()
    memset(mark, 0, m)
    try:
        with nogil:
            for e in range(votes):
                p = position[cols[e]]
                if p < 0:
                    continue  # a column moderated out
                r = rows[e]
                sums[p] += vals[e] - values[r, p]
                values[r, p] = vals[e]
                voted[r, p] = 1.0
                if fresh[e]:
                    row_votes[r] += 1
                    counts[p] += 1.0
                mark[p] = 1
            for p in range(m):
                if mark[p]:
                    touched[t] = p
                    t += 1
        if t == 0:
            return 0.0
        changed = <double *>malloc(<size_t>n * t * sizeof(double))
        new = <double *>malloc(<size_t>m * t * sizeof(double))
        if changed == NULL or new == NULL:
            raise MemoryError()
        with nogil:
            for q in range(t):
                p = touched[q]
                mean = sums[p] / counts[p]
                for i in range(n):
                    d = (values[i, p] - mean) * voted[i, p]
                    centred[i, p] = d
                    changed[q * n + i] = d
            # new (m x t, column-major) = centred^T changed: each touched column's new row.
            dgemm(&trans_t, &trans_n, &m, &t, &n, &one, &centred[0, 0], &n, changed, &n,
                  &zero, new, &m)
            for q in range(t):
                p = touched[q]
                for k in range(m):
                    d = new[q * m + k] - cov[p, k]
                    # A change inside the touched block is counted once, elsewhere twice
                    # (it is in a row and in a column).
                    moved += d * d if mark[k] else 2.0 * d * d
            for q in range(t):
                p = touched[q]
                for k in range(m):
                    cov[p, k] = new[q * m + k]
            for q in range(t):
                p = touched[q]
                for k in range(m):
                    cov[k, p] = new[q * m + k]
        return sqrt(moved)
    finally:
        free(mark)
        free(touched)
        free(changed)
        free(new)
