# cython: language_level=3
"""The replay's clustering kernels: Polis's k-means (clean start, Lloyd steps), the checks that
the previous update's base clusters and groupings still hold, and the silhouette estimates.

They repeat the NumPy code of ``bot/summary/analysis.py`` operation for operation: the same
sums in the same (index) order, distances as SciPy's ``cdist`` computes them (the square root
of ``d0 * d0 + d1 * d1``), the first minimum where NumPy's ``argmin`` takes it. Comparisons of
distances are done on squared distances only where the square root cannot change their
outcome (it is monotone, so a minimum, a maximum or a second-smallest value is the root of the
squared one); the nearest centre is decided on the roots, as ``argmin`` of ``cdist`` does.
Where NumPy multiplies matrices (BLAS, whose order of sums is its own) the kernels sum in index
order instead; each such place says so, and the callers keep their slack constants there.
"""

import numpy as np

from libc.math cimport INFINITY, sqrt
from libc.stdlib cimport free, malloc, qsort


cdef struct Row:
    double x
    double y
    Py_ssize_t at


cdef int _row_order(const void* pa, const void* pb) noexcept nogil:
    """Lexicographic order of two rows (NumPy's lexsort), ties by position (a stable sort)."""
    cdef const Row* a = <const Row*>pa
    cdef const Row* b = <const Row*>pb
    if a.x < b.x:
        return -1
    if a.x > b.x:
        return 1
    if a.y < b.y:
        return -1
    if a.y > b.y:
        return 1
    return -1 if a.at < b.at else (1 if a.at > b.at else 0)


cdef inline double _sq(double ax, double ay, double bx, double by) noexcept nogil:
    """The squared distance as ``cdist`` sums it: coordinate 0, then coordinate 1."""
    cdef double gx = ax - bx
    cdef double gy = ay - by
    return gx * gx + gy * gy


cdef inline Py_ssize_t _nearest(
    double px, double py, const double[:, ::1] c, Py_ssize_t m
) noexcept nogil:
    """``argmin`` of the distances (roots) from a point to the m centres: the first minimum.
    A root is taken only when the squared distance is below the best one so far (a larger
    squared distance cannot have a smaller root)."""
    cdef Py_ssize_t j, best = 0
    cdef double b = _sq(px, py, c[0, 0], c[0, 1])
    cdef double bs = sqrt(b)
    cdef double d, s
    for j in range(1, m):
        d = _sq(px, py, c[j, 0], c[j, 1])
        if d < b:
            b = d
            s = sqrt(d)
            if s < bs:
                bs = s
                best = j
    return best


cdef inline Py_ssize_t _nearest_of_all(
    double px, double py, const double[:, ::1] c, Py_ssize_t m, double* buf, double* second
) noexcept nogil:
    """:func:`_nearest` (the same centre) and the second-smallest squared distance: the
    squared distances into ``buf`` with the two smallest kept in two interleaved runs (no
    branches), then the first position of the smallest. When the two smallest could have
    equal roots, the first minimum of the roots is found as :func:`_nearest` finds it."""
    cdef double b1a = INFINITY, b2a = INFINITY, b1b = INFINITY, b2b = INFINITY
    cdef double da, db, t, b1, b2, bs, s
    cdef Py_ssize_t j = 0, best
    while j + 1 < m:
        da = _sq(px, py, c[j, 0], c[j, 1])
        db = _sq(px, py, c[j + 1, 0], c[j + 1, 1])
        buf[j] = da
        buf[j + 1] = db
        t = da if da > b1a else b1a
        b2a = t if t < b2a else b2a
        b1a = da if da < b1a else b1a
        t = db if db > b1b else b1b
        b2b = t if t < b2b else b2b
        b1b = db if db < b1b else b1b
        j += 2
    if j < m:
        da = _sq(px, py, c[j, 0], c[j, 1])
        buf[j] = da
        t = da if da > b1a else b1a
        b2a = t if t < b2a else b2a
        b1a = da if da < b1a else b1a
    b1 = b1a if b1a < b1b else b1b
    t = b1a if b1a > b1b else b1b
    b2 = b2a if b2a < b2b else b2b
    b2 = t if t < b2 else b2
    second[0] = b2
    # Distinct roots when the squares differ by more than two units in the last place.
    if b2 > b1 * (1.0 + 1e-15) and (b1 == 0.0 or b1 > 1e-300):
        j = 0
        while buf[j] != b1:
            j += 1
        return j
    best = 0
    b1 = buf[0]
    bs = sqrt(b1)
    for j in range(1, m):
        if buf[j] < b1:
            b1 = buf[j]
            s = sqrt(b1)
            if s < bs:
                bs = s
                best = j
    return best


cdef void _centres_of(
    const double[:, :] x,
    const long[::1] lab,
    Py_ssize_t m,
    const double* w,
    double[:, ::1] out,
    double[::1] tot,
) noexcept nogil:
    """``_weighted_centres``: the sums of ``np.bincount`` (index order, from 0.0) of the rows
    with a label (rows labelled -1 are skipped), divided by the weights (``w`` NULL: 1)."""
    cdef Py_ssize_t i, g, n = x.shape[0]
    cdef bint weighted = w != NULL
    cdef double wi
    for g in range(m):
        tot[g] = 0.0
        out[g, 0] = 0.0
        out[g, 1] = 0.0
    for i in range(n):
        g = lab[i]
        if g < 0:
            continue
        if weighted:
            wi = w[i]
            tot[g] += wi
            out[g, 0] += wi * x[i, 0]
            out[g, 1] += wi * x[i, 1]
        else:
            tot[g] += 1.0
            out[g, 0] += x[i, 0]
            out[g, 1] += x[i, 1]
    for g in range(m):
        if tot[g] > 0:
            out[g, 0] = out[g, 0] / tot[g]
            out[g, 1] = out[g, 1] / tot[g]


cdef double _pairwise_sum(const double* a, Py_ssize_t n, Py_ssize_t stride) noexcept nogil:
    """NumPy's pairwise summation of a contiguous run (``sum`` and ``mean`` over an axis)."""
    cdef Py_ssize_t i, j, n2
    cdef double res
    cdef double r[8]
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[i * stride]
        return res
    if n <= 128:
        for j in range(8):
            r[j] = a[j * stride]
        i = 8
        while i < n - (n % 8):
            for j in range(8):
                r[j] += a[(i + j) * stride]
            i += 8
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        while i < n:
            res += a[i * stride]
            i += 1
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return _pairwise_sum(a, n2, stride) + _pairwise_sum(a + n2 * stride, n - n2, stride)


cdef Py_ssize_t _classes(const double[:, :] c, Py_ssize_t m, long[::1] cls) except -1:
    """The number of distinct rows of c, and each row's class (equal rows share one, numbered
    in lexicographic order as ``_row_groups`` numbers them)."""
    cdef Row* rows = <Row*>malloc(max(m, 1) * sizeof(Row))
    cdef Py_ssize_t i, u = 0
    if rows == NULL:
        raise MemoryError()
    for i in range(m):
        rows[i].x = c[i, 0]
        rows[i].y = c[i, 1]
        rows[i].at = i
    qsort(rows, m, sizeof(Row), _row_order)
    for i in range(m):
        if i and (rows[i].x != rows[i - 1].x or rows[i].y != rows[i - 1].y):
            u += 1
        cls[rows[i].at] = u
    free(rows)
    return u + 1 if m else 0


def distinct_count(const double[:, :] x):
    """``_distinct_count``: the number of distinct rows of x."""
    cls = np.empty(x.shape[0], np.int64)
    return _classes(x, x.shape[0], cls)


def first_distinct(const double[:, :] x, Py_ssize_t k):
    """``_first_distinct``: the indices of the first k distinct rows, in row order."""
    cdef Py_ssize_t n = x.shape[0], i, j, found = 0
    out = np.empty(min(n, max(k, 0)), np.int64)
    cdef long[::1] o = out
    for i in range(n):
        if found >= k:
            break
        for j in range(found):
            if x[o[j], 0] == x[i, 0] and x[o[j], 1] == x[i, 1]:
                break
        else:
            o[found] = i
            found += 1
    return out[:found]


def weighted_centres(const double[:, :] x, const long[::1] labels, Py_ssize_t n, weights):
    """``_weighted_centres``: (weighted) means of the rows of clusters 0..n-1, total weights."""
    centres = np.empty((n, 2))
    tot = np.empty(n)
    cdef const double[::1] w
    cdef const double* wp = NULL
    if weights is not None:
        w = weights
        wp = &w[0] if w.shape[0] else NULL
    _centres_of(x, labels, n, wp, centres, tot)
    return centres, tot


def clean_start(const double[:, :] x, const long[::1] labels, Py_ssize_t k, weights, distinct):
    """``_clean_start`` (clusters.clj ``clean-start-clusters``): (ids, centres, positions in
    ids of each row's cluster or None when some row belongs to none)."""
    cdef Py_ssize_t n = x.shape[0], i, g, u, m, top = -1, members = 0, possible, far
    cdef const double[::1] w
    cdef const double* wp = NULL
    if weights is not None:
        w = weights
        wp = &w[0] if w.shape[0] else NULL
    cdef double best, d
    for i in range(n):
        if labels[i] >= 0:
            members += 1
            if labels[i] > top:
                top = labels[i]
    if not members:
        idx = first_distinct(x, k)
        return np.arange(idx.size, dtype=np.int64), np.asarray(x)[idx], None
    lab_a = np.array(labels, dtype=np.int64)
    cdef long[::1] lab = lab_a
    rank_a = np.zeros(top + 2, np.int64)
    cdef long[::1] rank = rank_a
    for i in range(n):
        if lab[i] >= 0:
            rank[lab[i]] = 1
    m = 0
    for g in range(top + 1):
        if rank[g]:
            rank[g] = m
            m += 1
        else:
            rank[g] = -1
    ids_a = np.empty(m + max(k, 0), np.int64)
    cdef long[::1] ids = ids_a
    for g in range(top + 1):
        if rank[g] >= 0:
            ids[rank[g]] = g
    pos_a = np.full(n, -1, np.int64)
    cdef long[::1] pos = pos_a
    for i in range(n):
        if lab[i] >= 0:
            pos[i] = rank[lab[i]]
    centres_a = np.empty((m + max(k, 0), 2))
    cdef double[:, ::1] centres = centres_a
    tot_a = np.empty(m + max(k, 0))
    cdef double[::1] tot = tot_a
    _centres_of(x, pos, m, wp, centres, tot)
    cls_a = np.empty(m, np.int64)
    cdef long[::1] cls = cls_a
    cdef Py_ssize_t n_cls = _classes(centres, m, cls)
    if n_cls < m:
        _merge_identical(lab, pos, ids, cls, m, n_cls)
        m = _relabel(lab, ids, pos, top)
        _centres_of(x, pos, m, wp, centres, tot)
    if distinct is not None:
        possible = min(k, <Py_ssize_t>distinct)
    elif m >= k:
        possible = k
    else:
        possible = min(k, _classes(x, n, np.empty(n, np.int64)))
    while m < possible:
        far = 0
        best = -1.0
        for i in range(n):
            d = sqrt(_min_sq(x[i, 0], x[i, 1], centres, m))
            if d > best:
                best = d
                far = i
        if best <= 0:
            break
        ids[m] = ids[m - 1] + 1
        if lab[far] < 0:
            members += 1
        lab[far] = ids[m]
        pos[far] = m
        m += 1
        _centres_of(x, pos, m, wp, centres, tot)
    return ids_a[:m].copy(), centres_a[:m].copy(), pos_a if members == n else None


cdef inline double _min_sq(double px, double py, const double[:, ::1] c, Py_ssize_t m) noexcept nogil:
    cdef Py_ssize_t j
    cdef double b = INFINITY, d
    for j in range(m):
        d = _sq(px, py, c[j, 0], c[j, 1])
        if d < b:
            b = d
    return b


cdef void _merge_identical(
    long[::1] lab, const long[::1] pos, const long[::1] ids, const long[::1] cls,
    Py_ssize_t m, Py_ssize_t n_cls
) noexcept:
    """Clusters with identical centres merged: each member takes the id of the largest cluster
    (most members; the first of equals) of its centre's class."""
    cdef Py_ssize_t i, c, u, n = lab.shape[0]
    sizes_a = np.zeros(m, np.int64)
    keep_a = np.full(n_cls, -1, np.int64)
    cdef long[::1] sizes = sizes_a
    cdef long[::1] keep = keep_a
    for i in range(n):
        if pos[i] >= 0:
            sizes[pos[i]] += 1
    for c in range(m):
        u = cls[c]
        if keep[u] < 0 or sizes[c] > sizes[keep[u]]:
            keep[u] = c
    for i in range(n):
        if pos[i] >= 0:
            lab[i] = ids[keep[cls[pos[i]]]]


cdef Py_ssize_t _relabel(long[::1] lab, long[::1] ids, long[::1] pos, Py_ssize_t top) except -1:
    """ids = the sorted distinct labels of the members, pos = each member's position in ids."""
    cdef Py_ssize_t i, g, m = 0, n = lab.shape[0]
    rank_a = np.full(top + 1, -1, np.int64)
    cdef long[::1] rank = rank_a
    for i in range(n):
        if lab[i] >= 0:
            rank[lab[i]] = 0
    for g in range(top + 1):
        if rank[g] == 0:
            rank[g] = m
            ids[m] = g
            m += 1
    for i in range(n):
        if lab[i] >= 0:
            pos[i] = rank[lab[i]]
    return m


cdef void _assign(
    const double[:, :] x, const double[:, ::1] centres, Py_ssize_t m, long[::1] nearest,
    double* buf
) noexcept nogil:
    """Each row's nearest centre (the first minimum of the roots, as ``argmin`` of ``cdist``);
    ``buf`` holds m doubles."""
    cdef Py_ssize_t i, n = x.shape[0]
    cdef double second
    for i in range(n):
        nearest[i] = _nearest_of_all(x[i, 0], x[i, 1], centres, m, buf, &second)


cdef inline bint _before(const Row* a, const Row* b, bint lex) noexcept nogil:
    """Row a sorts before row b: on the first coordinate (then, when ``lex``, the second),
    then on position."""
    if a.x != b.x:
        return a.x < b.x
    if lex and a.y != b.y:
        return a.y < b.y
    return a.at < b.at


cdef void _resort(Row* rows, Py_ssize_t m, const double[:, ::1] c, bint lex) noexcept nogil:
    """``rows`` (the centres in their order of the previous step) given the centres ``c`` now
    and sorted again, by insertion (the centres move little from one step to the next)."""
    cdef Py_ssize_t i, j
    cdef Row r
    for i in range(m):
        rows[i].x = c[rows[i].at, 0]
        rows[i].y = c[rows[i].at, 1]
    for i in range(1, m):
        r = rows[i]
        j = i
        while j > 0 and _before(&r, &rows[j - 1], lex):
            rows[j] = rows[j - 1]
            j -= 1
        rows[j] = r


cdef void _drop(Row* rows, Py_ssize_t m, const long[::1] remap, const double[::1] tot) noexcept nogil:
    """The rows of the clusters left empty removed, the others renumbered (order kept)."""
    cdef Py_ssize_t i, kept = 0
    for i in range(m):
        if tot[rows[i].at] > 0:
            rows[kept] = rows[i]
            rows[kept].at = remap[rows[i].at]
            kept += 1


def kmeans(
    const double[:, :] x,
    ids_in,
    centres_in,
    Py_ssize_t max_iters,
    weights,
    start,
    bint want_reach,
    double tol2,
    double slack,
):
    """``_kmeans`` (clusters.clj ``kmeans``): (ids, centres, labels, reach). When ``start``
    (the positions of a clean start) is kept by the first step, the given ids and centres are
    returned with it, and ``reach`` (when asked for) is each row's distance to its
    second-nearest centre less ``slack`` (``_base_held``); otherwise reach is None."""
    cdef Py_ssize_t n = x.shape[0], i, j, g, m, mm, step, alive
    cdef const double[::1] w
    cdef const double* wp = NULL
    if weights is not None:
        w = weights
        wp = &w[0] if w.shape[0] else NULL
    ids_a = np.array(ids_in, dtype=np.int64)
    cdef long[::1] ids = ids_a
    m = ids.shape[0]
    centres_a = np.array(centres_in, dtype=np.float64, order="C")
    cdef double[:, ::1] centres = centres_a
    nearest_a = np.empty(n, np.int64)
    cdef long[::1] nearest = nearest_a
    cdef const long[::1] st
    cdef double d, b1, b2, s, bs
    cdef bint kept
    buf_a = np.empty(max(m, 1))
    cdef double[::1] buf = buf_a
    if start is not None:
        st = start
        kept = True
        reach_a = np.empty(n) if want_reach else None
        for i in range(n):
            g = _nearest_of_all(x[i, 0], x[i, 1], centres, m, &buf[0], &b2)
            nearest[i] = g
            if g != st[i]:
                kept = False
            elif want_reach:
                reach_a[i] = sqrt(b2) - slack
        if kept:
            return ids_in, centres_in, ids_a[nearest_a], reach_a
    else:
        _assign(x, centres, m, nearest, &buf[0])
    new_a = np.empty((max(m, 1), 2))
    cdef double[:, ::1] new = new_a
    tot_a = np.empty(max(m, 1))
    cdef double[::1] tot = tot_a
    old_a = np.empty((max(m, 1), 2))
    cdef double[:, ::1] old = old_a
    now_a = np.empty((max(m, 1), 2))
    cdef double[:, ::1] now = now_a
    remap_a = np.empty(max(m, 1), np.int64)
    cdef long[::1] remap = remap_a
    labels_a = np.zeros(n, np.int64)
    cdef long[::1] labels = labels_a
    cdef Py_ssize_t m_old = m
    cdef Row* lex = <Row*>malloc(max(m, 1) * sizeof(Row))
    if lex == NULL:
        raise MemoryError()
    for g in range(m):
        lex[g].at = g
    _resort(lex, m, centres, True)
    for g in range(m):
        old[g, 0] = lex[g].x
        old[g, 1] = lex[g].y
    for step in range(max_iters + 1):
        if step:
            _assign(x, centres, m, nearest, &buf[0])
        _centres_of(x, nearest, m, wp, new, tot)
        alive = 0
        for g in range(m):
            if tot[g] > 0:
                remap[g] = alive
                ids[alive] = ids[g]
                centres[alive, 0] = new[g, 0]
                centres[alive, 1] = new[g, 1]
                alive += 1
        if alive < m:
            _drop(lex, m, remap, tot)
        m = alive
        for i in range(n):
            labels[i] = ids[remap[nearest[i]]]
        if step == max_iters:
            break
        _resort(lex, m, centres, True)
        for g in range(m):
            now[g, 0] = lex[g].x
            now[g, 1] = lex[g].y
        mm = min(m_old, m)
        kept = True
        for g in range(mm):
            if not (_sq(old[g, 0], old[g, 1], now[g, 0], now[g, 1]) < tol2):
                kept = False
                break
        if kept:
            break
        old, now = now, old
        m_old = m
    free(lex)
    # Sorted by id (a stable sort; the ids of the callers are sorted already).
    out_ids = ids_a[:m].copy()
    out_centres = centres_a[:m].copy()
    kept = True
    for g in range(1, m):
        if ids[g] < ids[g - 1]:
            kept = False
    if not kept:
        by_id = np.argsort(out_ids, kind="stable")
        out_ids, out_centres = out_ids[by_id], out_centres[by_id]
    return out_ids, out_centres, labels_a, None


cdef class HeldBase:
    """``_base_still_held`` for one held base clustering: the in-conv rows, each row's
    position of its cluster, the rows' projections and the centres then, and each row's
    distance then to its second-nearest centre less the slack."""

    cdef long[::1] ic_rows
    cdef long[::1] pos
    cdef double[:, ::1] points
    cdef double[:, ::1] centres
    cdef double[::1] reach
    cdef double[::1] counts
    cdef double[::1] counts_now
    cdef long[::1] doubt_rows
    cdef Py_ssize_t m
    cdef Py_ssize_t far_n
    cdef Py_ssize_t doubts
    cdef double slack

    def __init__(self, ic_rows, pos, Py_ssize_t m, points, centres, reach,
                 Py_ssize_t far_n, Py_ssize_t doubts, double slack):
        cdef Py_ssize_t i
        self.ic_rows = np.ascontiguousarray(ic_rows, dtype=np.int64)
        self.pos = np.ascontiguousarray(pos, dtype=np.int64)
        self.points = np.ascontiguousarray(points, dtype=np.float64)
        self.centres = np.ascontiguousarray(centres, dtype=np.float64)
        self.reach = np.ascontiguousarray(reach, dtype=np.float64)
        self.counts = np.zeros(m)
        self.counts_now = np.zeros(m)
        self.doubt_rows = np.zeros(self.pos.shape[0], np.int64)
        for i in range(self.pos.shape[0]):
            self.counts[self.pos[i]] += 1.0
        self.m, self.far_n, self.doubts, self.slack = m, far_n, doubts, slack

    def still_held(self, const double[:, :] x, const long[::1] ic_rows):
        """The recentred centres when every row provably stays nearest its own, else None
        (also when the in-conv rows differ). The ``far_n`` centres that moved most are
        chosen as the first of equal moves (``np.argpartition`` may choose other equals:
        the proof holds for any choice, and the centres found are the same)."""
        cdef Py_ssize_t n = self.pos.shape[0], m = self.m, i, j, f, c, doubt = 0
        cdef Py_ssize_t n_far = min(self.far_n, m)
        cdef const long[::1] pos = self.pos
        cdef const long[::1] rows = self.ic_rows
        cdef const double[:, ::1] then = self.points
        cdef const double[:, ::1] was = self.centres
        cdef const double[::1] reach = self.reach
        cdef double slack = self.slack
        if ic_rows.shape[0] != n or x.shape[0] != n:
            return None
        for i in range(n):
            if ic_rows[i] != rows[i]:
                return None
        centres_a = np.empty((m, 2))
        cdef double[:, ::1] cen = centres_a
        _centres_of(x, pos, m, NULL, cen, self.counts_now)
        # The n_far largest moves (first of equals), then the largest of the others.
        cdef long top[16]
        cdef double top_v[16]
        cdef Py_ssize_t kept = 0, slots = min(n_far + 1, m)
        cdef double mv, rest = 0.0
        for c in range(m):
            mv = sqrt(_sq(cen[c, 0], cen[c, 1], was[c, 0], was[c, 1]))
            if kept < slots:
                j = kept
                kept += 1
            elif mv > top_v[kept - 1]:
                j = kept - 1
            else:
                continue
            while j > 0 and mv > top_v[j - 1]:
                top_v[j] = top_v[j - 1]
                top[j] = top[j - 1]
                j -= 1
            top_v[j] = mv
            top[j] = c
        if m > n_far:
            rest = top_v[n_far]
        cdef double own, bound, near, d, px, py
        cdef long[::1] doubt_rows = self.doubt_rows
        for i in range(n):
            c = pos[i]
            px = x[i, 0]
            py = x[i, 1]
            own = sqrt(_sq(px, py, cen[c, 0], cen[c, 1]))
            bound = reach[i] - sqrt(_sq(px, py, then[i, 0], then[i, 1])) - rest
            near = INFINITY
            for f in range(n_far):
                if top[f] != c:
                    d = _sq(px, py, cen[top[f], 0], cen[top[f], 1])
                    if d < near:
                        near = d
            if not (own < bound and sqrt(near) > own + slack):
                doubt_rows[doubt] = i
                doubt += 1
        if doubt > max(self.doubts, n // 8):
            return None
        for f in range(doubt):
            i = doubt_rows[f]
            if _nearest(x[i, 0], x[i, 1], cen, m) != pos[i]:
                return None
        return centres_a


cdef void _shares(
    const double[:] w, const long[:, ::1] lab, double[:, ::1] share, double[::1] tot
) noexcept nogil:
    """Each member's share of its (stacked) group's weight, K x n."""
    cdef Py_ssize_t k, j, n_k = lab.shape[0], n = lab.shape[1]
    for j in range(tot.shape[0]):
        tot[j] = 0.0
    for k in range(n_k):
        for j in range(n):
            tot[lab[k, j]] += w[j]
    for k in range(n_k):
        for j in range(n):
            share[k, j] = w[j] / tot[lab[k, j]]


cdef void _group_centres(
    const double[:, :] p, const long[:, ::1] lab, const double[:, ::1] share,
    double[:, ::1] out
) noexcept nogil:
    """The centres of the stacked groups: each member's share of its group's weight times
    its point, summed in index order (``_HeldGroups``'s product of the shares with the
    points, whose BLAS sums may round differently)."""
    cdef Py_ssize_t k, j, g, n_k = lab.shape[0], n = lab.shape[1]
    for g in range(out.shape[0]):
        out[g, 0] = 0.0
        out[g, 1] = 0.0
    for k in range(n_k):
        for j in range(n):
            g = lab[k, j]
            out[g, 0] += share[k, j] * p[j, 0]
            out[g, 1] += share[k, j] * p[j, 1]


cdef class HeldGroups:
    """``_groups_still_held`` for one set of held groupings: their stacked labels (K x n
    base clusters), the group centres, margins and silhouette spread then."""

    cdef long[:, ::1] lab
    cdef long[::1] starts
    cdef long[::1] counts
    cdef double[::1] sizes
    cdef double[:, ::1] others
    cdef double[:, ::1] shared
    cdef double[:, ::1] denom
    cdef double[::1] means
    cdef double[:, ::1] margins
    cdef double[:, ::1] points
    cdef double[::1] weights
    cdef double[:, ::1] centres
    cdef double[:, ::1] share
    cdef object ids
    cdef long[::1] id_values
    cdef double[::1] delta  # the buffers of still_held
    cdef double[:, ::1] cen
    cdef double[::1] work
    cdef double[::1] cmax
    cdef double[::1] change
    cdef Py_ssize_t best
    cdef Py_ssize_t doubts
    cdef double slack
    cdef double tie

    def __init__(self, ids, lab, counts, sizes, own, denom, means, margins, points, weights,
                 Py_ssize_t best, Py_ssize_t doubts, double slack, double tie):
        cdef Py_ssize_t k, n_k
        self.lab = np.ascontiguousarray(lab, dtype=np.int64)
        self.counts = np.ascontiguousarray(counts, dtype=np.int64)
        n_k = self.counts.shape[0]
        self.starts = np.zeros(n_k, np.int64)
        for k in range(1, n_k):
            self.starts[k] = self.starts[k - 1] + self.counts[k - 1]
        self.sizes = np.ascontiguousarray(sizes, dtype=np.float64)
        own_a = np.asarray(own, dtype=np.float64)
        self.others = np.ascontiguousarray(np.maximum(own_a - 1.0, 1.0))
        self.shared = np.ascontiguousarray((own_a > 1.0).astype(np.float64))
        self.denom = np.ascontiguousarray(denom, dtype=np.float64)
        self.means = np.ascontiguousarray(means, dtype=np.float64)
        self.margins = np.ascontiguousarray(margins, dtype=np.float64)
        self.points = np.array(points, dtype=np.float64, order="C")
        self.weights = np.array(weights, dtype=np.float64)
        self.ids = ids
        self.id_values = np.ascontiguousarray(ids, dtype=np.int64)
        self.share = np.empty((n_k, self.lab.shape[1]))
        _shares(self.weights, self.lab, self.share, np.empty(self.sizes.shape[0]))
        self.centres = np.empty((self.sizes.shape[0], 2))
        _group_centres(self.points, self.lab, self.share, self.centres)
        self.best, self.doubts, self.slack, self.tie = best, doubts, slack, tie
        self.delta = np.empty(self.lab.shape[1])
        self.cen = np.empty((self.sizes.shape[0], 2))
        self.work = np.empty(self.sizes.shape[0])
        self.cmax = np.empty(n_k)
        self.change = np.empty(self.lab.shape[1])

    def still_held(self, ids, const double[:, :] p, const double[:] w):
        """Whether the groupings and their best k provably hold for the base clusters ``ids``
        (the same as then) with centres ``p`` and weights ``w``. The group centres and each
        group's sum of moves are summed in index order (NumPy's BLAS products may round
        them differently; the margins keep HOLD_SLACK and the ranking SILHOUETTE_TIE)."""
        cdef const long[:, ::1] lab = self.lab
        cdef const double[:, ::1] margins = self.margins
        cdef const long[::1] starts = self.starts
        cdef const long[::1] counts = self.counts
        cdef const double[:, ::1] centres = self.centres
        cdef const double[::1] sizes = self.sizes
        cdef const double[:, ::1] others = self.others
        cdef const double[:, ::1] denom = self.denom
        cdef const double[:, ::1] shared = self.shared
        cdef const double[::1] means = self.means
        cdef const double[:, ::1] points = self.points
        cdef const double[::1] weights = self.weights
        cdef Py_ssize_t n_k = lab.shape[0], n = lab.shape[1]
        cdef Py_ssize_t total = sizes.shape[0], k, j, g, e, doubt = 0
        cdef const long[::1] id_now
        if p.shape[0] != n or w.shape[0] != n:
            return False
        if ids is not self.ids:
            id_now = ids
            if id_now.shape[0] != self.id_values.shape[0]:
                return False
            for j in range(n):
                if id_now[j] != self.id_values[j]:
                    return False
        cdef double[::1] delta = self.delta
        for j in range(n):
            delta[j] = sqrt(_sq(p[j, 0], p[j, 1], points[j, 0], points[j, 1]))
        cdef double[:, ::1] cen = self.cen
        cdef double[::1] work = self.work
        cdef double[:, ::1] share = self.share
        for j in range(n):
            if w[j] != weights[j]:
                share = np.empty((n_k, n))
                _shares(w, lab, share, work)
                break
        _group_centres(p, lab, share, cen)
        cdef double[::1] cmax = self.cmax
        cdef double mv
        for k in range(n_k):
            cmax[k] = -INFINITY
            for g in range(starts[k], starts[k] + counts[k]):
                mv = sqrt(_sq(cen[g, 0], cen[g, 1], centres[g, 0], centres[g, 1]))
                if mv > cmax[k]:
                    cmax[k] = mv
        # Base clusters whose margin does not cover the moves: compared with the centres.
        cdef double mine, near, d
        for k in range(n_k):
            for j in range(n):
                if margins[k, j] <= 2.0 * delta[j] + 2.0 * cmax[k]:
                    doubt += 1
                    if doubt > self.doubts:
                        return False
        if doubt:
            for k in range(n_k):
                for j in range(n):
                    if not margins[k, j] <= 2.0 * delta[j] + 2.0 * cmax[k]:
                        continue
                    e = lab[k, j]
                    mine = sqrt(_sq(cen[e, 0], cen[e, 1], p[j, 0], p[j, 1]))
                    near = INFINITY
                    for g in range(starts[k], starts[k] + counts[k]):
                        if g != e:
                            d = sqrt(_sq(cen[g, 0], cen[g, 1], p[j, 0], p[j, 1]))
                            if d < near:
                                near = d
                    if not mine + self.slack < near:
                        return False
        # How much each k's silhouette can have moved.
        for g in range(total):
            work[g] = 0.0
        for k in range(n_k):
            for j in range(n):
                work[lab[k, j]] += delta[j]
        cdef double[::1] change = self.change
        cdef double da, db, room, c, far_mean, bound, low = 0.0, high = -INFINITY, value
        for k in range(n_k):
            far_mean = -INFINITY
            for g in range(starts[k], starts[k] + counts[k]):
                value = work[g] / sizes[g]
                if value > far_mean:
                    far_mean = value
            for j in range(n):
                da = delta[j] + (work[lab[k, j]] - delta[j]) / others[k, j]
                db = delta[j] + far_mean
                room = denom[k, j] - (da if da >= db else db)
                c = (da + db) / room if room > 0.0 else 2.0
                if c > 2.0:
                    c = 2.0
                change[j] = c * shared[k, j]
            bound = _pairwise_sum(&change[0], n, 1) / n if n else 0.0
            if counts[k] < 2:
                bound = 0.0
            value = means[k] + bound
            if k == self.best:
                low = value - 2.0 * bound
            elif value > high:
                high = value
        return low > high + self.tie


cdef tuple _stacked_groups(const long[:, ::1] labels):
    """The groups of K labellings (K x n) stacked: (each labelling's group ids' stacked
    position, K x (largest id + 1), -1 where unused; groups per labelling; first stacked group
    of each; groups in all), the groups of a labelling in the order of their ids."""
    cdef Py_ssize_t n_k = labels.shape[0], n = labels.shape[1], k, j, g, top = 0
    cdef Py_ssize_t total = 0, width
    for k in range(n_k):
        for j in range(n):
            if labels[k, j] > top:
                top = labels[k, j]
    width = top + 1
    rank_a = np.full((n_k, width), -1, np.int64)
    cdef long[:, ::1] rank = rank_a
    counts_a = np.zeros(n_k, np.int64)
    cdef long[::1] counts = counts_a
    starts_a = np.zeros(n_k, np.int64)
    cdef long[::1] starts = starts_a
    for k in range(n_k):
        for j in range(n):
            rank[k, labels[k, j]] = 0
        starts[k] = total
        for g in range(width):
            if rank[k, g] == 0:
                rank[k, g] = total
                total += 1
        counts[k] = total - starts[k]
    return rank_a, counts_a, starts_a, total


def held_groupings(const double[:, :] p, const double[:] w, const long[:, ::1] labels,
                   const long[::1] ks, double slack):
    """``_held_groupings``'s arithmetic for the K previous labellings (K x n base clusters):
    (held per k, margins K x n). The group centres are the k-means's sums (index order)."""
    cdef Py_ssize_t n_k = labels.shape[0], n = labels.shape[1], k, j, g, e, total
    rank_a, counts_a, starts_a, total = _stacked_groups(labels)
    cdef long[:, ::1] rank = rank_a
    cdef long[::1] counts = counts_a
    cdef long[::1] starts = starts_a
    cen_a = np.zeros((total, 2))
    cdef double[:, ::1] cen = cen_a
    tot_a = np.zeros(total)
    cdef double[::1] tot = tot_a
    for k in range(n_k):
        for j in range(n):
            g = rank[k, labels[k, j]]
            tot[g] += w[j]
            cen[g, 0] += w[j] * p[j, 0]
            cen[g, 1] += w[j] * p[j, 1]
    for g in range(total):
        cen[g, 0] = cen[g, 0] / tot[g]
        cen[g, 1] = cen[g, 1] / tot[g]
    held_a = np.ones(n_k, np.bool_)
    margins_a = np.empty((n_k, n))
    cdef double[:, ::1] margins = margins_a
    cdef double b1, b2, bs, d, s
    cdef Py_ssize_t first, h
    cdef bint held
    for k in range(n_k):
        held = counts[k] >= ks[k]
        for g in range(starts[k], starts[k] + counts[k]):
            for h in range(g + 1, starts[k] + counts[k]):
                if cen[g, 0] == cen[h, 0] and cen[g, 1] == cen[h, 1]:
                    held = False
        for j in range(n):
            e = rank[k, labels[k, j]]
            b1 = INFINITY
            b2 = INFINITY
            bs = INFINITY
            first = -1
            for g in range(starts[k], starts[k] + counts[k]):
                d = _sq(p[j, 0], p[j, 1], cen[g, 0], cen[g, 1])
                if d < b1:
                    b2 = b1
                    b1 = d
                    s = sqrt(d)
                    if s < bs:
                        bs = s
                        first = g
                elif d < b2:
                    b2 = d
            if first != e:
                held = False
            margins[k, j] = (sqrt(b2) - sqrt(b1)) - slack
        held_a[k] = held
    return held_a, margins_a


def silhouette_estimates(const double[:, :] p, const long[:, ::1] labels):
    """``_silhouette_estimates``: (means, lab, counts, sizes, own, denom) of the K labellings
    (K x n). Each point's summed distance to a group is summed in index order (NumPy's BLAS
    product of the distance matrix with the memberships may round it differently: the means
    agree to about 1e-15); the means are NumPy's pairwise sums of the silhouettes."""
    cdef Py_ssize_t n_k = labels.shape[0], n = labels.shape[1], k, i, j, g, e, total
    rank_a, counts_a, starts_a, total = _stacked_groups(labels)
    cdef long[:, ::1] rank = rank_a
    cdef long[::1] counts = counts_a
    cdef long[::1] starts = starts_a
    lab_a = np.empty((n_k, n), np.int64)
    cdef long[:, ::1] lab = lab_a
    sizes_a = np.zeros(total)
    cdef double[::1] sizes = sizes_a
    for k in range(n_k):
        for j in range(n):
            lab[k, j] = rank[k, labels[k, j]]
            sizes[lab[k, j]] += 1.0
    sums_a = np.zeros((n, max(total, 1)))
    cdef double[:, ::1] sums = sums_a
    cdef double d
    # The distance matrix (symmetric: the squares of opposite differences are equal).
    dist_a = np.zeros((n, n))
    cdef double[:, ::1] dist = dist_a
    for i in range(n):
        for j in range(i + 1, n):
            d = sqrt(_sq(p[i, 0], p[i, 1], p[j, 0], p[j, 1]))
            dist[i, j] = d
            dist[j, i] = d
    for i in range(n):
        for j in range(n):
            d = dist[i, j]
            for k in range(n_k):
                sums[i, lab[k, j]] += d
    own_a = np.empty((n_k, n))
    cdef double[:, ::1] own = own_a
    denom_a = np.empty((n_k, n))
    cdef double[:, ::1] denom = denom_a
    means_a = np.empty(n_k)
    cdef double[::1] means = means_a
    sil_a = np.empty(max(n, 1))
    cdef double[::1] sil = sil_a
    cdef double a, b, o, q
    for k in range(n_k):
        for i in range(n):
            e = lab[k, i]
            o = sizes[e]
            own[k, i] = o
            a = sums[i, e] / (o - 1.0 if o - 1.0 > 1.0 else 1.0)
            b = INFINITY
            for g in range(starts[k], starts[k] + counts[k]):
                if g != e:
                    q = sums[i, g] / sizes[g]
                    if q < b:
                        b = q
            q = a if a >= b else b
            denom[k, i] = q * (1.0 - 1e-12)
            sil[i] = (b - a) / q if o > 1 and q > 0 else 0.0
        means[k] = -1.0 if counts[k] < 2 else _pairwise_sum(&sil[0], n, 1) / n
    return means_a, lab_a, counts_a, sizes_a, own_a, denom_a


def voted_columns(const double[:, :] comps, Py_ssize_t enough):
    """The number of columns of ``comps`` with a non-zero entry (``_candidate_ks``), counted
    up to ``enough``."""
    cdef Py_ssize_t j, i, found = 0
    for j in range(comps.shape[1]):
        for i in range(comps.shape[0]):
            if comps[i, j] != 0.0:
                found += 1
                break
        if found >= enough:
            break
    return found


def cluster_sizes(const long[::1] ids, const long[::1] labels):
    """The number of rows of each cluster (``ids`` sorted, ``labels`` among them), as floats:
    ``np.bincount(np.searchsorted(ids, labels))``."""
    cdef Py_ssize_t m = ids.shape[0], i, g, top = ids[m - 1] if m else -1
    out = np.zeros(m)
    cdef double[::1] o = out
    at_a = np.full(top + 1, -1, np.int64)
    cdef long[::1] at = at_a
    for i in range(m):
        if ids[i] >= 0:
            at[ids[i]] = i
    for i in range(labels.shape[0]):
        g = labels[i]
        if 0 <= g <= top and at[g] >= 0:
            o[at[g]] += 1.0
        else:
            return np.bincount(np.searchsorted(ids, labels), minlength=m).astype(np.float64)
    return out
