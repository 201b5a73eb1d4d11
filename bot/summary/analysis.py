"""Opinion groups of a debate round, computed the way Polis computes them.

Members vote agree (+1), disagree (-1) or pass (0) on each other's statements. After a round
closes this module runs the analysis of Polis (compdemocracy.org/polis) on those votes: a PCA
map of the participants, opinion groups, the statements that represent each group, consensus
and group-aware consensus. It is pure computation: no I/O, no chat or database imports.

The method follows the Polis math sources (``compdemocracy/polis``, ``math/src/polismath``):

* ``math/conversation.clj`` -- the update graph: rating matrix with moderated-out (and meta)
  statements zeroed, the sticky "in-conv" set (at least ``min(7, n_comments)`` votes, topped
  up to 15 by the most active voters, once in always in), base clusters (k = 100), group
  clusters for k in 2..min(5, 2 + n_base // 12) weighted by base-cluster sizes, silhouette
  choice of k, the group-k smoother (a new k is adopted after winning 4 updates in a row) and
  group-aware consensus (product over groups of ``(agree + 1) / (seen + 2)``);
* ``math/pca.clj`` -- PCA of the whole rating matrix with missing votes imputed by the column
  mean, and the sparsity-aware projection: each participant's projection is scaled by
  ``sqrt(n_comments / max(n_votes, 1))`` (zeroed statements count as voted, as in Polis);
* ``math/clusters.clj`` -- k-means as Polis runs it: first-distinct-rows initialisation,
  warm start from the previous update ("clean-start": recentre the previous clusters on their
  members, merge identical centres, split off the most distal point until there are as many
  clusters as distinct points allow), empty clusters dropped, convergence when every centre
  moves less than 0.01, at most 100 steps for base clusters and 20 for groups; silhouette
  over the base-cluster centres;
* ``math/repness.clj`` and ``math/stats.clj`` -- representative statements: ``pa``/``pd``
  with +1/+2 pseudocounts, the one-proportion test ``pat``/``pdt``, the representativeness
  ``ra``/``rd`` against the other groups and its two-proportion test ``rat``/``rdt``, 90%
  one-sided significance (z > 1.2816), ``repful-for``, the best-agree pick, at most 5
  statements per group, agrees before disagrees; consensus statements over all voters
  (``pa > 0.5`` and significant ``pat``, ranked by ``pa * pat``, 5 per direction);
* ``math/named_matrix.clj`` -- participants and statements are indexed in the order they first
  appear in the vote stream (it decides k-means initialisation and ties);
* ``conv_man.clj``, ``poller.clj`` -- how updates are triggered (see :class:`ReplayBatching`).

The red-dwarf Python port (``polis-community/red-dwarf``: ``reddwarf/implementations/base.py``,
``reddwarf/utils/stats.py``, ``reddwarf/utils/matrix.py``, ``reddwarf/utils/consensus.py``,
``reddwarf/sklearn/transformers.py``) was used as a cross-check.

Two entry points:

* :func:`analyze` -- one Polis update over all the votes from a blank state (what Polis
  computes when it recomputes a conversation from scratch);
* :func:`replay` -- the votes replayed in time order, update after update, carrying Polis's
  state from one update to the next (sticky in-conv set, warm-started base and group
  clusters, group-k smoother, PCA signs). Polis's published groups depend on that history.

Numerics: the PCA is an eigendecomposition of ``Xc^T Xc`` (NumPy/SciPy LAPACK, ARPACK for very
many statements). A replay keeps ``Xc^T Xc`` from one update to the next and refines the
previous components instead (:mod:`bot.summary.replay_pca`: warm-started like Polis's
``powerit-pca``, but to convergence, so its groups are those of the from-scratch PCA).
Polis's k-means differs from scikit-learn's (empty clusters are dropped rather than
relocated, Polis's convergence rule and warm start), so its Lloyd loop is written here with
SciPy distances and NumPy sums; the silhouette is computed from one distance matrix for all
k because it runs at every update (tests check it against scikit-learn's).

A replay at Polis's cadence runs tens of thousands of updates, most of which move the map a
little and change no clustering. Three shortcuts give the same results as computing every
step (``tests/summary/test_replay_warm.py`` checks it): the groupings of all the ks whose
warm start holds are found in one pass with the same arithmetic (:func:`_held_groupings`);
the best k is ranked on silhouette estimates, the exact silhouettes deciding near ties and
the final update's; and a clustering whose warm start held is kept at the next updates while
triangle-inequality bounds on how far the points and centres moved show that it still holds
(:func:`_base_still_held` for the base clusters, :func:`_groups_still_held` for the groupings
and their best k).

Polis also zeroes "meta" statements (``is_meta``, e.g. demographic questions) exactly like
moderated-out ones; CSV exports do not carry that flag, so pass such statements in
``moderated_out`` to reproduce Polis.
"""

from __future__ import annotations

import bisect
import contextlib
import math
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import scipy.linalg
import scipy.sparse as sp
from scipy.sparse.linalg import eigsh
from scipy.spatial.distance import cdist
from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

from bot.summary._kernels import load
from bot.summary.replay_pca import WarmPCA, WarmStep

# The compiled PCA kernels (``bot/summary/_kernels/lanczos.pyx``), when they were built.
_LANCZOS = load("lanczos")
if TYPE_CHECKING:
    from bot.summary._kernels import clusters as _CK
else:
    _CK = load("clusters")  # the compiled clustering kernels; None: the NumPy code below

ANALYSIS_VERSION = "polis-1.0"

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Constants of the Polis math (conversation.clj opts, stats.clj, repness.clj).
MIN_VOTES = 7  # in-conv: at least min(MIN_VOTES, n_comments) votes
GREEDY_N = 15  # in-conv is topped up to this many participants by vote count
BASE_K = 100  # number of base clusters
MAX_K = 5  # largest number of groups
BASE_ITERS = 100  # k-means iterations for base clusters
GROUP_ITERS = 20  # k-means iterations for groups (clusters.clj default max-iters)
K_BUFFER = 4  # group-k smoother: updates in a row a new k must win
Z_90 = 1.2816  # one-sided 90% significance
SAME_CLUSTERING = 0.01  # k-means convergence: every centre moved less than this
MAX_REPRESENTATIVE = 5
MAX_CONSENSUS = 5
MAX_DIVISIVE = 5
MIN_DIVISIVE_VARIANCE = 0.01  # variance of the groups' agree probabilities (std 0.1)
DENSE_PCA_MAX_CELLS = 2_000_000  # up to this many matrix cells, the centred matrix is dense
SMALL_EIGH_COLUMNS = 120  # up to this many statements, a full NumPy eigh
DENSE_EIGH_MAX_COLUMNS = 3000  # above this many statements, ARPACK instead of LAPACK eigh
HELD_FAR = 4  # held base clusters: the centres that moved most are compared exactly
HELD_DOUBTS = 16  # held base clusters: rows compared exactly before a full step instead
HOLD_SLACK = 1e-9  # margins are kept this much smaller than computed (rounding of distances)
SILHOUETTE_TIE = 1e-9  # silhouettes closer than this are ranked on their exact values
WARM_MIN_UPDATES = 100  # a replay with this many updates keeps its PCA between them


# ----------------------------------------------------------------------------------------------
# Public data types


@dataclass(frozen=True)
class Vote:
    """One vote: ``value`` is +1 agree, -1 disagree, 0 pass. The latest timestamp wins."""

    participant: str
    statement: str
    value: int
    timestamp: float = 0.0


@dataclass
class RepStatement:
    """A statement representative of a group (Polis ``repness``).

    ``direction`` is Polis's ``repful-for``: the group agrees (or disagrees) with the statement
    markedly more than the rest of the clustered participants. ``probability`` is the group's
    smoothed probability of voting that way (``pa``/``pd``), ``p_test`` its one-proportion
    z-score, ``repness`` the ratio to the other groups (``ra``/``rd``) and ``repness_test``
    the two-proportion z-score (``rat``/``rdt``). ``agree``/``disagree``/``seen`` are the raw
    counts within the group.
    """

    statement: str
    direction: str
    n_success: int = 0
    n_trials: int = 0
    probability: float = 0.0
    p_test: float = 0.0
    repness: float = 0.0
    repness_test: float = 0.0
    best_agree: bool = False
    agree: int = 0
    disagree: int = 0
    seen: int = 0


@dataclass
class OpinionGroup:
    """One opinion group: ``id`` runs 0..k-1 in the order of Polis's group ids (Polis shows
    them as A, B, C...), ``centre`` is the mean map position of its members."""

    id: int
    size: int
    members: list[str]
    representative: list[RepStatement]
    centre: tuple[float, float]


@dataclass
class AnalysisResult:
    """Result of :func:`analyze` or :func:`replay`.

    ``participants`` counts everyone with a vote; ``participants_clustered`` those Polis
    clusters (the in-conv set); ``statements`` and ``votes`` count statements that are not
    moderated out and the votes on them (one per participant and statement).
    ``divisive`` lists the statements whose smoothed agree probability ``(A+1)/(S+2)`` varies
    most between groups (population variance over the groups that saw the statement, at least
    two of them; variance at least 0.01; at most 5, highest first); ``divisive_scores`` holds
    that variance for every statement seen by two groups or more.
    """

    analysis_version: str
    seed: int
    participants: int
    participants_clustered: int
    statements: int
    votes: int
    groups: list[OpinionGroup]
    assignments: dict[str, int]
    coords: dict[str, tuple[float, float]]
    consensus: dict[str, list[str]]
    group_aware_consensus: dict[str, float]
    divisive: list[str]
    divisive_scores: dict[str, float] = field(default_factory=dict)
    silhouettes: dict[int, float] = field(default_factory=dict)
    updates: int = 1
    method: str = "single"

    def to_json(self) -> dict[str, object]:
        """JSON-ready dict (plain str/int/float/list/dict values)."""
        return {
            "analysis_version": self.analysis_version,
            "method": self.method,
            "seed": self.seed,
            "updates": self.updates,
            "participants": self.participants,
            "participants_clustered": self.participants_clustered,
            "statements": self.statements,
            "votes": self.votes,
            "groups": [
                {
                    "id": g.id,
                    "size": g.size,
                    "centre": [round(g.centre[0], 6), round(g.centre[1], 6)],
                    "members": list(g.members),
                    "representative": [_rep_json(r) for r in g.representative],
                }
                for g in self.groups
            ],
            "assignments": dict(self.assignments),
            "coords": {p: [round(x, 6), round(y, 6)] for p, (x, y) in self.coords.items()},
            "consensus": {k: list(v) for k, v in self.consensus.items()},
            "group_aware_consensus": {
                s: round(v, 6) for s, v in self.group_aware_consensus.items()
            },
            "divisive": list(self.divisive),
            "divisive_scores": {s: round(v, 6) for s, v in self.divisive_scores.items()},
            "silhouettes": {str(k): round(v, 6) for k, v in self.silhouettes.items()},
        }


def _rep_json(r: RepStatement) -> dict[str, object]:
    return {
        "statement": r.statement,
        "direction": r.direction,
        "n_success": r.n_success,
        "n_trials": r.n_trials,
        "probability": round(r.probability, 6),
        "p_test": round(r.p_test, 6),
        "repness": round(r.repness, 6),
        "repness_test": round(r.repness_test, 6),
        "best_agree": r.best_agree,
        "agree": r.agree,
        "disagree": r.disagree,
        "seen": r.seen,
    }


@dataclass(frozen=True)
class ReplayBatching:
    """How :func:`replay` groups the vote stream into Polis updates.

    The Polis math worker polls for new votes every second (``poller.clj``,
    ``:polling-interval 1000``) and runs one conversation update on everything that arrived
    since its previous update (``conv_man.clj`` takes all queued vote batches at once). A busy
    conversation therefore gets an update every second or so -- thousands of updates
    (``benchmarks/replay.py`` times them against one analysis). By default the replay keeps
    Polis's batching rule but slows the poller down uniformly: the poll period is the
    smallest ``poll_seconds * 1.5**i`` that gives at most ``max_updates`` updates, so bursts
    of activity still get more updates than quiet periods and each update takes in exactly
    what a slower Polis poller would have seen. :data:`EVERY_POLL` replays Polis's own
    cadence instead.

    * The sticky in-conv set is evaluated at every ``poll_seconds`` window whatever the update
      schedule: it needs only vote counts, and participants topped up early stay in for good.
    * The group-k smoother counts an update that stands for m poll windows as m consecutive
      wins of its best k (Polis would have run m updates in that time).
    * The last ``final_polls`` poll windows are updates of their own.
    * With ``restart_gap_seconds`` set, a pause longer than that is treated as a restart of
      the math worker: Polis reloads the stored state, which keeps the in-conv set, the base
      clusters and the PCA but not the per-k group clusterings nor the k smoother
      (``conv_man.clj`` ``restructure-json-conv``), and recomputes once on load. Restarts
      happen at deployment times that exports do not record, so this is off by default.

    ``tests/summary/test_polis_fidelity.py`` lists how each schedule compares with the groups
    Polis published for four real conversations.
    """

    poll_seconds: float = 1.0
    max_updates: int = 28
    final_polls: int = 1
    restart_gap_seconds: float | None = None


EVERY_POLL = ReplayBatching(max_updates=2**62)
"""Polis's own cadence: one update per one-second poll window that received votes."""


# ----------------------------------------------------------------------------------------------
# Vote preparation

_THREADPOOLS: list[Any] = []


@contextlib.contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """Run BLAS/LAPACK on one thread: the matrices here are small, and multi-threaded LAPACK
    on a 300 x 300 eigenproblem is both slower and erratic (thread start-up dominates)."""
    if not _THREADPOOLS:
        _THREADPOOLS.append(ThreadpoolController())
    with _THREADPOOLS[0].limit(limits=1, user_api="blas"):
        yield


@dataclass
class _Votes:
    """Votes in time order, participants and statements indexed by first appearance."""

    participants: list[str]
    statements: list[str]
    rows: IntArray
    cols: IntArray
    vals: FloatArray
    times: FloatArray
    mod: BoolArray  # per statement column: moderated out


def _prepare(votes: Iterable[Vote], moderated_out: Collection[str]) -> _Votes:
    vote_list = votes if isinstance(votes, Sequence) else list(votes)
    n = len(vote_list)
    parts = [v.participant for v in vote_list]
    stmts = [v.statement for v in vote_list]
    vals = np.array([v.value for v in vote_list], dtype=np.float64).reshape(n)
    times = np.array([v.timestamp for v in vote_list], dtype=np.float64).reshape(n)
    allowed = (vals == -1.0) | (vals == 0.0) | (vals == 1.0)
    if not np.all(allowed):
        raise ValueError(f"vote value must be -1, 0 or 1, got {vals[~allowed][0]:g}")
    p_names = list(dict.fromkeys(parts))
    s_names = list(dict.fromkeys(stmts))
    p_index = {p: i for i, p in enumerate(p_names)}
    s_index = {s: i for i, s in enumerate(s_names)}
    p_raw = np.fromiter(map(p_index.__getitem__, parts), np.int64, n)
    s_raw = np.fromiter(map(s_index.__getitem__, stmts), np.int64, n)
    order = np.argsort(times, kind="stable")
    p_raw, s_raw, vals, times = p_raw[order], s_raw[order], vals[order], times[order]
    p_codes = _first_appearance_codes(p_raw, len(p_names))
    s_codes = _first_appearance_codes(s_raw, len(s_names))
    participants = [p_names[i] for i in np.argsort(p_codes).tolist()]
    statements = [s_names[i] for i in np.argsort(s_codes).tolist()]
    mod_set = set(moderated_out)
    mod = np.array([s in mod_set for s in statements], dtype=np.bool_).reshape(len(statements))
    return _Votes(participants, statements, p_codes[p_raw], s_codes[s_raw], vals, times, mod)


def _first_appearance_codes(raw: IntArray, count: int) -> IntArray:
    """Map arbitrary codes to their rank of first appearance in ``raw``."""
    if count == 0:
        return np.zeros(0, np.int64)
    _, first = np.unique(raw, return_index=True)
    codes = np.empty(count, np.int64)
    codes[np.argsort(first, kind="stable")] = np.arange(count)
    return codes


def _latest(rows: IntArray, cols: IntArray, n_cols: int) -> IntArray:
    """Indices (into time-ordered arrays) of the latest vote per (row, col)."""
    if rows.size == 0:
        return np.zeros(0, np.int64)
    keys = rows * max(n_cols, 1) + cols
    rev = keys[::-1]
    _, first_in_rev = np.unique(rev, return_index=True)
    idx = keys.size - 1 - first_in_rev
    return np.sort(idx)


# ----------------------------------------------------------------------------------------------
# One Polis update


@dataclass
class _Snapshot:
    """The rating matrix at one update: current votes of the first n_rows x n_cols."""

    n_rows: int
    n_cols: int
    rows: IntArray
    cols: IntArray
    vals: FloatArray
    mod: BoolArray  # length n_cols


@dataclass
class _Clusters:
    """A clustering: ids and centres (sorted by id), and each data row's cluster id."""

    ids: IntArray
    centres: FloatArray
    labels: IntArray
    sizes: FloatArray | None = None  # rows per cluster (as floats), when known already


@dataclass
class _Grouping:
    """A group clustering of the base clusters: group id per base-cluster id."""

    base_ids: IntArray
    group_ids: IntArray


@dataclass
class _State:
    in_conv: BoolArray = field(default_factory=lambda: np.zeros(0, np.bool_))
    base: _Clusters | None = None
    groupings: dict[int, _Grouping] = field(default_factory=dict)
    last_k: int | None = None
    last_k_count: int = 0
    smoothed_k: int | None = None
    comps: FloatArray | None = None  # 2 x n_cols, previous principal components
    updates: int = 0
    base_memo: _HeldBase | None = None
    group_memo: _HeldGroups | None = None


@dataclass
class _HeldBase:
    """A base clustering whose warm start held at its first k-means step, and how far each
    in-conv row was from its second-nearest centre: while the rows and the recentred centres
    move less than that allows, the later updates' warm starts hold too (see
    :func:`_base_still_held`)."""

    ic_rows: IntArray
    ids: IntArray
    pos: IntArray  # per in-conv row: the position in ids of its cluster
    points: FloatArray  # the in-conv rows' projections then
    centres: FloatArray
    reach: FloatArray  # per row: its distance to the second-nearest centre, less slack
    state_base: _Clusters  # what state.base was set to
    labels: IntArray = field(init=False)  # per in-conv row: its cluster's id
    sizes: FloatArray = field(init=False)  # rows per cluster
    kernel: _CK.HeldBase | None = field(init=False)  # the compiled check, when built

    def __post_init__(self) -> None:
        self.labels = self.ids[self.pos]
        self.sizes = np.bincount(self.pos, minlength=self.ids.size).astype(np.float64)
        self.kernel = None
        if _CK is not None:
            self.kernel = _CK.HeldBase(
                self.ic_rows, self.pos, self.ids.size, self.points, self.centres, self.reach,
                HELD_FAR, HELD_DOUBTS, HOLD_SLACK,
            )  # fmt: skip


@dataclass
class _Spread:
    """The silhouettes of the labellings of every candidate k, stacked (K of them, over n
    base clusters), with what bounds how much they change when the points move."""

    means: FloatArray  # K: the silhouette estimates
    lab: IntArray  # K x n: each point's group as a stacked column (groups of every k)
    counts: IntArray  # K: groups of each k
    sizes: FloatArray  # per stacked group: its points
    own: FloatArray  # K x n: the size of each point's group
    denom: FloatArray  # K x n: max(a, b)


@dataclass
class _HeldGroups:
    """Groupings that held for every k (:func:`_held_groupings`) and the best k of their
    silhouettes, with the margins that keep both while the base-cluster centres move little
    (see :func:`_groups_still_held`)."""

    base_ids: IntArray
    weights: FloatArray
    points: FloatArray  # the base-cluster centres then
    groupings: dict[int, _Grouping]
    margins: FloatArray  # K x n: second-nearest minus own group distance, less slack
    best_k: int
    spread: _Spread
    member: FloatArray = field(init=False)  # stacked groups x n: 1 for a member
    share: FloatArray = field(init=False)  # stacked groups x n: a member's share of weight
    starts: IntArray = field(init=False)  # first stacked group of each k
    centres: FloatArray = field(init=False)  # stacked groups x 2: the group centres then
    slots: IntArray = field(init=False)  # K x most groups: stacked group, -1 past the last
    others: FloatArray = field(init=False)  # K x n: the other members of each point's group
    shared: FloatArray = field(init=False)  # K x n: 1 where the group has other members
    best: int = field(init=False)  # the position of best_k among the candidate ks
    kernel: _CK.HeldGroups | None = field(init=False)  # the compiled check, when built

    def __post_init__(self) -> None:
        sp = self.spread
        self.best = list(self.groupings).index(self.best_k)
        self.kernel = None
        if _CK is not None:
            self.kernel = _CK.HeldGroups(
                self.base_ids, sp.lab, sp.counts, sp.sizes, sp.own, sp.denom, sp.means,
                self.margins, self.points, self.weights, self.best,
                HELD_DOUBTS, HOLD_SLACK, SILHOUETTE_TIE,
            )  # fmt: skip
            return  # the fields of the NumPy check (member .. shared) stay unset
        self.member = np.zeros((sp.sizes.size, self.points.shape[0]))
        self.member[sp.lab, np.arange(self.points.shape[0])] = 1.0
        self.share = self.shares(self.weights)
        self.starts = np.cumsum(sp.counts) - sp.counts
        self.centres = self.share @ self.points
        local = np.arange(int(sp.counts.max()))
        self.slots = np.where(local < sp.counts[:, None], self.starts[:, None] + local, -1)
        self.others = np.maximum(sp.own - 1.0, 1.0)
        self.shared = (sp.own > 1.0).astype(np.float64)

    def shares(self, weights: FloatArray) -> FloatArray:
        """Each member's share of its group's weight, for the base-cluster ``weights``."""
        weighted = self.member * weights
        result: FloatArray = weighted / weighted.sum(axis=1, keepdims=True)
        return result


@dataclass
class _Outcome:
    proj: FloatArray  # n_rows x 2
    in_conv_rows: IntArray
    base: _Clusters  # labels over in_conv_rows
    grouping: _Grouping | None
    labelings: dict[int, IntArray]  # group id per base cluster, for each candidate k

    def silhouettes(self) -> dict[int, float]:
        """The silhouette of each candidate k, exactly as :func:`_silhouettes` computes it."""
        return _silhouettes(self.base.centres, self.labelings)


def _pca(
    snap: _Snapshot, active: BoolArray, prev: FloatArray | None, seed: int
) -> tuple[FloatArray, FloatArray]:
    """Principal components (2 x n_cols) and the unscaled projection (n_rows x 2).

    Missing votes are imputed by the column mean, so the centred matrix holds
    ``value - column mean`` for a vote and 0 for a missing vote (pca.clj
    ``sparsity-aware-project-ptpt``); the components are the leading eigenvectors of
    ``Xc^T Xc``, which Polis finds by power iteration. Signs follow the previous update's
    components (Polis warm-starts its power iteration from them).
    """
    keep = active[snap.cols]
    r, c, v = snap.rows[keep], snap.cols[keep], snap.vals[keep]
    counts = np.bincount(c, minlength=snap.n_cols)
    sums = np.bincount(c, weights=v, minlength=snap.n_cols)
    mean = np.divide(sums, counts, out=np.zeros(snap.n_cols), where=counts > 0)
    used = np.flatnonzero(counts > 0)
    m = used.size
    comps = np.zeros((2, snap.n_cols))
    if m == 0 or snap.n_rows < 2:
        return comps, np.zeros((snap.n_rows, 2))
    remap = np.full(snap.n_cols, -1, np.int64)
    remap[used] = np.arange(m)
    centred = v - mean[c]
    dense: FloatArray | None = None
    sparse: sp.csr_matrix | None = None
    if snap.n_rows * m <= DENSE_PCA_MAX_CELLS:
        dense = np.zeros((snap.n_rows, m))
        dense[r, remap[c]] = centred
        cov = dense.T @ dense
    else:
        sparse = sp.csr_matrix((centred, (r, remap[c])), shape=(snap.n_rows, m))
        cov = (sparse.T @ sparse).toarray()
    n_comp = min(2, m, snap.n_rows)
    w, vecs = _leading_eigenvectors(cov, n_comp, seed)
    basis = _signed_basis(w, vecs, used, prev)
    comps[:, used] = basis.T
    if dense is not None:
        proj: FloatArray = dense @ basis
    else:
        assert sparse is not None
        proj = np.asarray(sparse @ basis, dtype=np.float64)
    return comps, proj


def _leading_eigenvectors(
    cov: FloatArray, n_comp: int, seed: int
) -> tuple[FloatArray, FloatArray]:
    """The ``n_comp`` largest eigenvalues of ``cov`` and their eigenvectors, largest first."""
    m = cov.shape[0]
    if m <= SMALL_EIGH_COLUMNS:
        w, vecs = np.linalg.eigh(cov)  # all of them: cheaper than a subset at this size
        w, vecs = w[m - n_comp :], vecs[:, m - n_comp :]
    elif m <= DENSE_EIGH_MAX_COLUMNS:
        w, vecs = scipy.linalg.eigh(cov, subset_by_index=[m - n_comp, m - 1])
    else:
        rng = np.random.default_rng(seed)
        w, vecs = eigsh(cov, k=n_comp, v0=rng.standard_normal(m))
    order = np.argsort(-w, kind="stable")
    return w[order], vecs[:, order]


def _signed_basis(
    w: FloatArray, vecs: FloatArray, used: IntArray, prev: FloatArray | None
) -> FloatArray:
    """The components over the ``used`` columns (m x 2), each signed like the previous
    update's (or with its largest coordinate positive); zero where no variance is left."""
    if _LANCZOS is not None:
        signed: FloatArray = _LANCZOS.signed_basis(w, vecs, used, prev)
        return signed
    m = used.size
    basis = np.zeros((m, 2))
    for i in range(w.size):
        if w[i] <= 1e-12 * max(1.0, float(w[0])):
            continue  # no variance left in this direction
        vec = vecs[:, i]
        ref = np.zeros(m)
        if prev is not None:
            inside = used < prev.shape[1]
            ref[inside] = prev[i, used[inside]]
        if float(ref @ ref) > 0:
            sign = 1.0 if float(ref @ vec) >= 0 else -1.0
        else:
            sign = 1.0 if vec[int(np.argmax(np.abs(vec)))] >= 0 else -1.0
        basis[:, i] = sign * vec
    return basis


def _sticky_in_conv(prev: BoolArray, counts: IntArray, n_cols: int) -> BoolArray:
    """conversation.clj ``:in-conv``: once in, always in; top up to GREEDY_N by vote count."""
    n = counts.size
    ic = np.zeros(n, np.bool_)
    ic[: prev.size] = prev[:n]
    ic |= counts >= min(MIN_VOTES, n_cols)
    have = int(ic.sum())
    if have < GREEDY_N:
        order = np.lexsort((np.arange(n), -counts))
        extra = order[~ic[order]][: GREEDY_N - have]
        ic[extra] = True
    return ic


def _row_groups(x: FloatArray) -> tuple[IntArray, IntArray]:
    """Rows sorted lexicographically, and the index of each row's first duplicate in that
    order (equal rows share a group number). Returns (order, group number per sorted row)."""
    order = np.lexsort(x.T[::-1])
    xs = x[order]
    new_group = np.ones(x.shape[0], np.bool_)
    if x.shape[0] > 1:
        new_group[1:] = np.any(xs[1:] != xs[:-1], axis=1)
    return order, np.cumsum(new_group) - 1


def _distinct_count(x: FloatArray) -> int:
    if _CK is not None:
        return _CK.distinct_count(x)
    if x.shape[0] == 0:
        return 0
    _, groups = _row_groups(x)
    return int(groups[-1]) + 1


def _first_distinct(x: FloatArray, k: int) -> IntArray:
    """Indices of the first k distinct rows, in row order (clusters.clj ``init-clusters``)."""
    if _CK is not None:
        return _CK.first_distinct(x, k)
    if x.shape[0] == 0:
        return np.zeros(0, np.int64)
    order, groups = _row_groups(x)
    first = np.full(int(groups[-1]) + 1, x.shape[0], np.int64)
    np.minimum.at(first, groups, order)
    return np.sort(first)[:k]


def _weighted_centres(
    x: FloatArray, labels: IntArray, n: int, weights: FloatArray | None
) -> tuple[FloatArray, FloatArray]:
    """(Weighted) mean of the rows of each cluster 0..n-1, and the clusters' total weights."""
    if _CK is not None:
        return _CK.weighted_centres(x, labels, n, weights)
    tot: FloatArray
    if weights is None:
        tot = np.bincount(labels, minlength=n).astype(np.float64)
        cx = np.bincount(labels, weights=x[:, 0], minlength=n)
        cy = np.bincount(labels, weights=x[:, 1], minlength=n)
    else:
        tot = np.bincount(labels, weights=weights, minlength=n).astype(np.float64)
        cx = np.bincount(labels, weights=weights * x[:, 0], minlength=n)
        cy = np.bincount(labels, weights=weights * x[:, 1], minlength=n)
    centres = np.empty((n, 2))
    safe = np.where(tot > 0, tot, 1.0)
    centres[:, 0] = cx / safe
    centres[:, 1] = cy / safe
    return centres, tot


def _clean_start(
    x: FloatArray, labels: IntArray, k: int, weights: FloatArray | None, distinct: int | None
) -> tuple[IntArray, FloatArray, IntArray | None]:
    """clusters.clj ``clean-start-clusters``: previous clusters recentred on their members,
    identical centres merged, then the most distal point split off until there are
    min(k, distinct points) clusters. ``labels`` holds the previous cluster id of each row
    (-1 for rows that belonged to none); ``distinct`` is the number of distinct rows of x
    (None: counted if needed).
    Returns (ids, initial centres, and when every row belongs to a cluster, the position in
    ids of each row's cluster: the centres are then the means of those clusters)."""
    if _CK is not None:
        return _CK.clean_start(x, labels, k, weights, distinct)
    member = labels >= 0
    if not member.any():
        idx = _first_distinct(x, k)
        return np.arange(idx.size, dtype=np.int64), x[idx], None
    # Recentre (clusters without members vanish), then merge clusters with identical centres;
    # the merged cluster keeps the id of the larger one.
    labels = labels.copy()
    ids, pos = _ids_and_positions(labels[member])
    wm = None if weights is None else weights[member]
    centres, _ = _weighted_centres(x[member], pos, ids.size, wm)
    order, groups = _row_groups(centres)
    if int(groups[-1]) + 1 < ids.size:
        sizes = np.bincount(pos, minlength=ids.size)
        inverse = np.empty(ids.size, np.int64)
        inverse[order] = groups
        keep_id = np.empty(int(groups[-1]) + 1, np.int64)
        for u in range(keep_id.size):
            same = np.flatnonzero(inverse == u)
            keep_id[u] = ids[same[np.argmax(sizes[same])]]
        labels[member] = keep_id[inverse][pos]
        ids = np.unique(labels[member])
        pos = np.searchsorted(ids, labels[member])
        centres, _ = _weighted_centres(x[member], pos, ids.size, wm)
    # No split is needed when there are k clusters already, whatever the distinct rows.
    counted = k if ids.size >= k or distinct is not None else _distinct_count(x)
    possible = min(k, counted if distinct is None else distinct)
    while ids.size < possible:
        dist = cdist(x, centres).min(axis=1)
        far = int(np.argmax(dist))
        if dist[far] <= 0:
            break
        new_id = int(ids[-1]) + 1
        labels[far] = new_id
        ids = np.append(ids, new_id)
        member = labels >= 0
        pos = np.searchsorted(ids, labels[member])
        wm = None if weights is None else weights[member]
        centres, _ = _weighted_centres(x[member], pos, ids.size, wm)
    return ids, centres, pos if bool(member.all()) else None


def _ids_and_positions(labels: IntArray) -> tuple[IntArray, IntArray]:
    """The distinct (non-negative) labels, sorted, and each label's position among them:
    ``np.unique(labels, return_inverse=True)`` for small ids, without the sort."""
    present = np.bincount(labels) > 0
    ids = np.flatnonzero(present).astype(np.int64)
    return ids, (np.cumsum(present) - 1)[labels]


def _kmeans(
    x: FloatArray,
    ids: IntArray,
    centres: FloatArray,
    max_iters: int,
    weights: FloatArray | None,
    start: IntArray | None = None,
) -> _Clusters:
    """clusters.clj ``kmeans``: Lloyd steps from the given centres; clusters left empty are
    dropped; stops when every (sorted) centre moved less than SAME_CLUSTERING or after
    ``max_iters`` further steps. Returns ids and centres sorted by id, labels per row.

    ``start`` (from :func:`_clean_start`, ids sorted) says the centres are the (weighted)
    means of the clusters of that assignment: if the first step keeps it, the centres do not
    move and the loop stops there with them (returned without recomputing them)."""
    if _CK is not None:
        found = _CK.kmeans(
            x, ids, centres, max_iters, weights, start, False, SAME_CLUSTERING**2, HOLD_SLACK
        )
        return _Clusters(found[0], found[1], found[2])
    labels = np.zeros(x.shape[0], np.int64)
    nearest = np.argmin(cdist(x, centres), axis=1)
    if start is not None and np.array_equal(nearest, start):
        return _Clusters(ids, centres, ids[nearest])
    old_sorted = _sorted_rows(centres)
    for step in range(max_iters + 1):
        if step:
            nearest = np.argmin(cdist(x, centres), axis=1)
        new_centres, tot = _weighted_centres(x, nearest, ids.size, weights)
        alive = tot > 0
        if alive.all():
            centres = new_centres
            labels = ids[nearest]
        else:
            ids, centres = ids[alive], new_centres[alive]
            labels = ids[(np.cumsum(alive) - 1)[nearest]]
        if step == max_iters:
            break
        new_sorted = _sorted_rows(centres)
        m = min(old_sorted.shape[0], new_sorted.shape[0])
        moved = old_sorted[:m] - new_sorted[:m]
        if np.all(np.einsum("ij,ij->i", moved, moved) < SAME_CLUSTERING**2):
            break
        old_sorted = new_sorted
    order = np.argsort(ids, kind="stable")
    return _Clusters(ids[order], centres[order], labels)


def _sorted_rows(a: FloatArray) -> FloatArray:
    return a[np.lexsort(a.T[::-1])] if a.shape[0] else a


def _update(
    state: _State,
    snap: _Snapshot,
    in_conv: BoolArray,
    seed: int,
    polls: int = 1,
    warm: tuple[WarmPCA, WarmStep] | None = None,
) -> _Outcome:
    """One Polis conversation update (conversation.clj small-conv-update-graph).

    ``polls`` is the number of Polis poll windows this update stands for in a batched
    replay: the group-k smoother counts it as that many consecutive wins of its best k.
    ``warm`` is a replay's PCA kept from the previous update and this update's step of it,
    solved (then ``snap`` need not carry the votes: only its sizes and ``mod`` are read)."""
    comps, proj, n_votes = _map_of(state, snap, seed, warm)
    state.comps = comps
    # Zeroed (moderated) columns count as voted for everybody (named_matrix zero-out-columns).
    n_votes = n_votes + int(snap.mod.sum())
    proj *= np.sqrt(snap.n_cols / np.maximum(n_votes, 1))[:, None]

    state.in_conv = in_conv
    ic_rows = np.flatnonzero(in_conv)
    base = _base_clusters(state, proj[ic_rows], ic_rows, snap.n_rows)
    groupings, this_k = _grouped(state, base, comps)
    labelings = {k: g.group_ids for k, g in groupings.items()}
    state.groupings = groupings
    state.updates += 1
    if not groupings:
        return _Outcome(proj, ic_rows, base, None, labelings)
    count = state.last_k_count + polls if state.last_k == this_k else polls
    adopt = count >= K_BUFFER or state.smoothed_k is None
    smoothed = this_k if adopt or state.smoothed_k is None else state.smoothed_k
    state.last_k, state.last_k_count, state.smoothed_k = this_k, count, smoothed
    chosen = groupings.get(smoothed, groupings[this_k])
    return _Outcome(proj, ic_rows, base, chosen, labelings)


def _map_of(
    state: _State, snap: _Snapshot, seed: int, warm: tuple[WarmPCA, WarmStep] | None
) -> tuple[FloatArray, FloatArray, IntArray]:
    """Principal components, unscaled projection and each row's number of votes on
    statements not moderated out: from the snapshot, or from a replay's warm PCA."""
    if warm is None:
        active = ~snap.mod
        comps, proj = _pca(snap, active, state.comps, seed)
        return comps, proj, np.bincount(snap.rows[active[snap.cols]], minlength=snap.n_rows)
    pca, step = warm
    comps = np.zeros((2, snap.n_cols))
    if not step.values.size:
        return comps, np.zeros((snap.n_rows, 2)), step.row_votes
    used = pca.columns[step.used_pos]
    basis = _signed_basis(step.values, step.vectors, used, state.comps)
    comps[:, used] = basis.T
    return comps, pca.project(step, basis), step.row_votes


def _base_clusters(state: _State, x: FloatArray, ic_rows: IntArray, n_rows: int) -> _Clusters:
    """The base clusters of the in-conversation rows' projections ``x``, started from the
    previous update's; ``state.base`` gets their labels over all ``n_rows`` rows."""
    memo, state.base_memo = state.base_memo, None
    found = None
    if memo is not None and memo.state_base is state.base:
        found = _base_still_held(memo, x, ic_rows)
        state.base_memo = memo if found is not None else None
    if found is None and state.base is not None and state.base.ids.size:
        prev_labels = np.full(n_rows, -1, np.int64)
        old = state.base.labels
        prev_labels[: old.size] = old[:n_rows]
        ids, init, start = _clean_start(x, prev_labels[ic_rows], BASE_K, None, None)
        if start is not None and ids.size >= BASE_K:
            found, state.base_memo = _base_held(x, ids, init, start, ic_rows)
    elif found is None:
        idx = _first_distinct(x, BASE_K)
        ids, init, start = np.arange(idx.size, dtype=np.int64), x[idx], None
    if found is not None:
        base = found
    elif ids.size:
        base = _kmeans(x, ids, init, BASE_ITERS, None, start)
    else:
        base = _Clusters(ids, init, np.zeros(0, np.int64))
    if memo is not None and state.base_memo is memo and memo.state_base.labels.size == n_rows:
        full_labels = memo.state_base.labels  # held again: the same rows in the same clusters
    else:
        full_labels = np.full(n_rows, -1, np.int64)
        full_labels[ic_rows] = base.labels
    state.base = _Clusters(base.ids, base.centres, full_labels)
    if state.base_memo is not None:
        state.base_memo.state_base = state.base
    return base


def _base_held(
    x: FloatArray, ids: IntArray, init: FloatArray, start: IntArray, ic_rows: IntArray
) -> tuple[_Clusters | None, _HeldBase | None]:
    """:func:`_kmeans`'s first step from a clean start of ``ids.size >= BASE_K`` clusters:
    the clustering when the start holds (with what it takes to break it), else (None, None)
    and the caller runs the k-means (the compiled kernel runs it here: (clustering, None))."""
    if _CK is not None:
        found_ids, centres, labels, reach = _CK.kmeans(
            x, ids, init, BASE_ITERS, None, start, True, SAME_CLUSTERING**2, HOLD_SLACK
        )
        found = _Clusters(found_ids, centres, labels)
        if reach is None:
            return found, None
        return found, _HeldBase(ic_rows, ids, start, x, init, reach, found)
    dist = cdist(x, init)
    nearest = np.argmin(dist, axis=1)
    if not np.array_equal(nearest, start):
        return None, None
    two = np.partition(dist, 1, axis=1)
    held = _Clusters(ids, init, ids[nearest])
    return held, _HeldBase(ic_rows, ids, start, x, init, two[:, 1] - HOLD_SLACK, held)


def _base_still_held(memo: _HeldBase, x: FloatArray, ic_rows: IntArray) -> _Clusters | None:
    """The base clustering of ``x`` when the held one provably holds again (the same in-conv
    rows, each still nearest its cluster's recentred centre), else None. The centres are
    computed as :func:`_clean_start` computes them; a row is nearest its own centre when

    * its distance to the own centre now is below its distance then to the second-nearest
      centre less its own move and the largest move of the other centres (triangle
      inequality), the :data:`HELD_FAR` centres that moved most being compared exactly;
    * or, for the few rows where that bound fails, on their distances to every centre.

    Too many such rows, and the reference is renewed by the caller's full step."""
    if memo.kernel is not None:
        found = memo.kernel.still_held(x, ic_rows)
        return None if found is None else _Clusters(memo.ids, found, memo.labels, memo.sizes)
    if ic_rows.size != memo.ic_rows.size or not np.array_equal(ic_rows, memo.ic_rows):
        return None
    centres, _ = _weighted_centres(x, memo.pos, memo.ids.size, None)
    shift = centres - memo.centres
    moves = np.sqrt(np.einsum("ij,ij->i", shift, shift))
    order = np.argpartition(moves, -HELD_FAR - 1)
    far = order[-HELD_FAR:]  # the HELD_FAR largest moves, then the largest of the others
    rest = float(moves[order[-HELD_FAR - 1]])
    moved = x - memo.points
    own_vec = x - centres[memo.pos]
    own = np.sqrt(np.einsum("ij,ij->i", own_vec, own_vec))
    bound = memo.reach - np.sqrt(np.einsum("ij,ij->i", moved, moved)) - rest
    to_far = cdist(x, centres[far])
    to_far[memo.pos[:, None] == far[None, :]] = np.inf
    doubt = np.flatnonzero(~((own < bound) & (to_far.min(axis=1) > own + HOLD_SLACK)))
    if doubt.size > max(HELD_DOUBTS, x.shape[0] // 8):
        return None
    if doubt.size:
        nearest = np.argmin(cdist(x[doubt], centres), axis=1)
        if not np.array_equal(nearest, memo.pos[doubt]):
            return None
    return _Clusters(memo.ids, centres, memo.labels, memo.sizes)


def _grouped(
    state: _State, base: _Clusters, comps: FloatArray
) -> tuple[dict[int, _Grouping], int]:
    """The groupings of every candidate k and the k of the best silhouette (0 when there is
    no grouping); the previous update's when they provably hold again."""
    if base.sizes is not None:
        weights = base.sizes  # a held base clustering's
    elif _CK is not None:
        weights = _CK.cluster_sizes(base.ids, base.labels)
    else:
        sizes = np.bincount(np.searchsorted(base.ids, base.labels), minlength=base.ids.size)
        weights = sizes.astype(np.float64)
    ks = _candidate_ks(base, comps)
    memo, state.group_memo = state.group_memo, None
    held = memo is not None and memo.groupings is state.groupings and list(memo.groupings) == ks
    if memo is not None and held and _groups_still_held(memo, base, weights):
        state.group_memo = memo
        return memo.groupings, memo.best_k
    groupings, margins = _groupings(state, base, ks, weights)
    if not groupings:
        return groupings, 0
    labelings = {k: g.group_ids for k, g in groupings.items()}
    this_k, lead, spread = _best_k(base.centres, labelings)
    if margins is not None and lead > SILHOUETTE_TIE:
        state.group_memo = _HeldGroups(
            base.ids, weights, base.centres, groupings, margins, this_k, spread
        )
    return groupings, this_k


def _groups_still_held(memo: _HeldGroups, base: _Clusters, weights: FloatArray) -> bool:
    """Whether the held groupings and their best k provably hold for the base clusters now
    (the same base clusters, moved by ``delta`` each since; their weights may differ):

    * each base cluster stays nearest its group while its margin exceeds ``2 delta + 2 c``,
      ``c`` the largest move of a group centre of that k (triangle inequality); the few
      base clusters where that bound fails are compared with the centres themselves;
    * a distance moves by at most the two points' moves, so each point's ``a`` and ``b`` by
      at most ``da`` and ``db`` (its move plus the mean move of its own group, of the
      groups), its silhouette by at most ``(da + db) / (max(a, b) - max(da, db))`` (at most
      2); the best k stays ahead while its estimate less its mean bound exceeds every
      other k's plus its bound, plus the estimates' rounding.

    The centres here are computed as products (their rounding differs from the k-means's
    sums by far less than :data:`HOLD_SLACK`)."""
    if memo.kernel is not None:
        return memo.kernel.still_held(base.ids, base.centres, weights)
    if base.ids is not memo.base_ids and not np.array_equal(base.ids, memo.base_ids):
        return False
    shift = base.centres - memo.points
    delta = np.sqrt(np.einsum("ij,ij->i", shift, shift))
    same = np.array_equal(weights, memo.weights)
    centres = (memo.share if same else memo.shares(weights)) @ base.centres
    moved = centres - memo.centres
    moves = np.sqrt(np.einsum("ij,ij->i", moved, moved))
    sp, starts = memo.spread, memo.starts
    reach = 2.0 * delta + 2.0 * np.maximum.reduceat(moves, starts)[:, None]
    doubt_k, doubt_j = np.nonzero(memo.margins <= reach)
    if doubt_k.size > HELD_DOUBTS:
        return False
    if doubt_k.size and not _nearest_own_group(memo, base.centres, centres, doubt_k, doubt_j):
        return False
    summed = memo.member @ delta
    da = delta + (summed[sp.lab] - delta) / memo.others
    db = delta + np.maximum.reduceat(summed / sp.sizes, starts)[:, None]
    room = sp.denom - np.maximum(da, db)
    change = np.full(room.shape, 2.0)
    np.divide(da + db, room, out=change, where=room > 0.0)
    np.minimum(change, 2.0, out=change)
    change *= memo.shared  # a point alone in its group has silhouette 0 whatever the moves
    bound = change.mean(axis=1)
    bound[sp.counts < 2] = 0.0
    high = sp.means + bound
    low = float(high[memo.best] - 2.0 * bound[memo.best])
    high[memo.best] = -np.inf
    return low > float(high.max()) + SILHOUETTE_TIE


def _nearest_own_group(
    memo: _HeldGroups, points: FloatArray, centres: FloatArray, ks: IntArray, rows: IntArray
) -> bool:
    """Whether each base cluster ``rows[i]`` is nearer its own group's centre in grouping
    ``ks[i]`` (a position among the candidate ks) than any other of that grouping by more
    than :data:`HOLD_SLACK`."""
    slots = memo.slots[ks]  # doubts x most groups
    padded = np.where(slots[:, :, None] >= 0, centres[slots], np.inf)
    gap = padded - points[rows][:, None, :]
    dist = np.sqrt(np.einsum("ijk,ijk->ij", gap, gap))
    at = np.arange(rows.size)
    own = memo.spread.lab[ks, rows] - memo.starts[ks]
    mine = dist[at, own]
    dist[at, own] = np.inf
    return bool(np.all(mine + HOLD_SLACK < dist.min(axis=1)))


def _candidate_ks(base: _Clusters, comps: FloatArray) -> list[int]:
    """Polis: k in 2..min(5, 2 + n_base // 12). Degenerate inputs get one group: a k needs
    fewer groups than base clusters (no all-singleton split) and two voted statements."""
    n_base = base.ids.size
    max_k = min(MAX_K, 2 + n_base // 12, n_base - 1)
    if _CK is not None:
        voted = _CK.voted_columns(comps, 2)
    else:
        voted = int(np.count_nonzero(np.any(comps != 0.0, axis=0)))
    if voted < 2 or n_base < 2:
        max_k = 0
    return list(range(2, max_k + 1))


def _groupings(
    state: _State, base: _Clusters, ks: list[int], weights: FloatArray
) -> tuple[dict[int, _Grouping], FloatArray | None]:
    """The base clusters grouped for each candidate k, each started from the previous
    update's grouping for that k; with the margins of :func:`_held_groupings` when all the
    previous groupings held (else None)."""
    base_ids = base.ids.copy()  # shared by the groupings of every k (never modified)
    groupings, margins = _held_groupings(state, base, weights, ks, base_ids)
    if len(groupings) < len(ks):
        margins = None
    for k in ks:
        if k in groupings:
            continue
        prev = state.groupings.get(k)
        if prev is not None:
            at = np.minimum(np.searchsorted(prev.base_ids, base.ids), prev.base_ids.size - 1)
            prev_g = np.where(prev.base_ids[at] == base.ids, prev.group_ids[at], -1)
            gids, ginit, start = _clean_start(base.centres, prev_g, k, weights, None)
        else:
            idx = _first_distinct(base.centres, k)
            gids, ginit, start = np.arange(idx.size, dtype=np.int64), base.centres[idx], None
        grouped = _kmeans(base.centres, gids, ginit, GROUP_ITERS, weights, start)
        groupings[k] = _Grouping(base_ids, grouped.labels)
    return dict(sorted(groupings.items())), margins


def _held_groupings(
    state: _State, base: _Clusters, weights: FloatArray, ks: list[int], base_ids: IntArray
) -> tuple[dict[int, _Grouping], FloatArray | None]:
    """The groupings of the ks whose previous grouping holds, found for all ks at once.

    A previous grouping holds when every base cluster was in it, its groups recentred on
    their (weighted) members have distinct centres and no fewer than k of them, and every
    base cluster is still nearest its own group's centre: :func:`_clean_start` then neither
    merges nor splits and :func:`_kmeans` stops at its first step with the same labels. The
    arithmetic is theirs (the same sums in the same order, the same distances), done in one
    pass over the stacked groups of all ks. The other ks are left to the caller.

    Also returns the margins (K x n base clusters): each base cluster's distance to its
    second-nearest group centre less its distance to the nearest, less :data:`HOLD_SLACK`."""
    prevs = [state.groupings.get(k) for k in ks]
    if not ks or any(p is None for p in prevs):
        return {}, None
    old_ids = prevs[0].base_ids if prevs[0] is not None else base_ids
    if any(p is None or p.base_ids is not old_ids for p in prevs):
        return {}, None
    at = np.minimum(np.searchsorted(old_ids, base.ids), old_ids.size - 1)
    if not np.array_equal(old_ids[at], base.ids):
        return {}, None
    labels = np.stack([p.group_ids[at] for p in prevs if p is not None])  # K x n_base
    if _CK is not None:
        ok, margins = _CK.held_groupings(
            base.centres, weights, labels, np.asarray(ks, np.int64), HOLD_SLACK
        )
        return {k: _Grouping(base_ids, labels[i]) for i, k in enumerate(ks) if ok[i]}, margins
    n_k, n = labels.shape
    width = int(labels.max()) + 1
    present = (
        np.bincount((labels + width * np.arange(n_k)[:, None]).ravel(), minlength=n_k * width) > 0
    )
    counts = present.reshape(n_k, width).sum(axis=1)
    pos = (np.cumsum(present) - 1)[labels + width * np.arange(n_k)[:, None]]  # stacked groups
    flat = pos.ravel()
    total = int(counts.sum())
    tot = np.bincount(flat, weights=np.tile(weights, n_k), minlength=total)
    centres = np.empty((total, 2))
    centres[:, 0] = (
        np.bincount(flat, weights=np.tile(weights * base.centres[:, 0], n_k), minlength=total)
        / tot
    )
    centres[:, 1] = (
        np.bincount(flat, weights=np.tile(weights * base.centres[:, 1], n_k), minlength=total)
        / tot
    )
    block = np.repeat(np.arange(n_k), counts)
    offset = np.cumsum(counts) - counts
    same = (centres[:, None, :] == centres[None, :, :]).all(axis=2) & (block[:, None] == block)
    merged = np.bincount(block, weights=same.sum(axis=1) - 1.0, minlength=n_k) > 0
    dist = np.full((n, n_k, int(counts.max())), np.inf)
    dist[:, block, np.arange(total) - offset[block]] = cdist(base.centres, centres)
    held = (pos - offset[:, None] == dist.argmin(axis=2).T).all(axis=1)
    held &= ~merged & (counts >= np.asarray(ks))
    two = np.partition(dist, 1, axis=2)
    margins = (two[:, :, 1] - two[:, :, 0]).T - HOLD_SLACK
    return {k: _Grouping(base_ids, labels[i]) for i, k in enumerate(ks) if held[i]}, margins


def _best_k(points: FloatArray, labelings: dict[int, IntArray]) -> tuple[int, float, _Spread]:
    """The k of the best silhouette (the largest k among equal bests), as the exact
    :func:`_silhouettes` would rank them. Ranked on :func:`_silhouette_estimates`, which
    differ from the exact values by rounding only (well below :data:`SILHOUETTE_TIE`);
    nearer ties than that are ranked on the exact values. Also returns the estimates' lead
    of the best k over the runner-up (0 on a near tie) and their :class:`_Spread`."""
    scores, spread = _silhouette_estimates(points, labelings)
    ranked = sorted(scores.values())
    lead = ranked[-1] - ranked[-2] if len(ranked) > 1 else np.inf
    if lead <= SILHOUETTE_TIE:
        scores, lead = _silhouettes(points, labelings), 0.0
    best = max(scores.values())
    return max(k for k, s in scores.items() if s == best), lead, spread  # max-key: the last


def _silhouette_estimates(
    points: FloatArray, labelings: dict[int, IntArray]
) -> tuple[dict[int, float], _Spread]:
    """:func:`_silhouettes` for all the labelings at once: the same formulas, with one
    product of the distance matrix with the stacked memberships of every k (its sums may
    round differently from one product per k). Also returns them with what bounds how much
    they change when the points move (:func:`_groups_still_held`)."""
    ks = list(labelings)
    labels = np.stack([labelings[k] for k in ks])  # K x n
    if _CK is not None:
        found = _Spread(*_CK.silhouette_estimates(points, labels))
        return dict(zip(ks, found.means.tolist(), strict=True)), found
    n_k, n = labels.shape
    width = int(labels.max()) + 1
    flat = labels + width * np.arange(n_k)[:, None]
    present = np.bincount(flat.ravel(), minlength=n_k * width) > 0
    counts = present.reshape(n_k, width).sum(axis=1)
    lab = (np.cumsum(present) - 1)[flat]  # K x n: column of each point's group, stacked
    total = int(counts.sum())
    onehot = np.zeros((n, total))
    onehot[np.tile(np.arange(n), n_k), lab.ravel()] = 1.0
    sums = cdist(points, points) @ onehot  # n x total
    sizes = onehot.sum(axis=0)
    rows = np.arange(n)
    own = sizes[lab]  # K x n
    a = sums[rows, lab] / np.maximum(own - 1.0, 1.0)
    others = sums / sizes
    others[rows, lab] = np.inf
    b = np.minimum.reduceat(others, np.cumsum(counts) - counts, axis=1).T  # K x n
    denom = np.maximum(a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        sil = np.where((own > 1) & (denom > 0), (b - a) / denom, 0.0)
    means = np.where(counts < 2, -1.0, sil.mean(axis=1))
    spread = _Spread(means, lab, counts, sizes, own, denom * (1.0 - 1e-12))
    return dict(zip(ks, means.tolist(), strict=True)), spread


def _silhouettes(points: FloatArray, labelings: dict[int, IntArray]) -> dict[int, float]:
    """Mean silhouette of each labelling of ``points`` (clusters.clj ``silhouette`` over the
    base-cluster distance matrix; equal to scikit-learn's ``silhouette_score``).

    Computed here from one distance matrix shared by every k, because it runs at each update
    of a replay. A member alone in its cluster scores 0; one cluster only scores -1."""
    dist = cdist(points, points)
    n = points.shape[0]
    out: dict[int, float] = {}
    for k, labels in labelings.items():
        present = np.bincount(labels) > 0  # group ids are small non-negative ints
        lab = (np.cumsum(present) - 1)[labels]  # np.unique's inverse, without the sort
        m = int(np.count_nonzero(present))
        if m < 2:
            out[k] = -1.0
            continue
        onehot = np.zeros((n, m))
        onehot[np.arange(n), lab] = 1.0
        sums = dist @ onehot
        sizes = onehot.sum(axis=0)
        own = sizes[lab]
        a = sums[np.arange(n), lab] / np.maximum(own - 1.0, 1.0)
        others = sums / sizes
        others[np.arange(n), lab] = np.inf
        b = others.min(axis=1)
        denom = np.maximum(a, b)
        with np.errstate(divide="ignore", invalid="ignore"):
            sil = np.where((own > 1) & (denom > 0), (b - a) / denom, 0.0)
        out[k] = float(sil.mean())
    return out


def _restart(state: _State) -> None:
    """What survives a math-worker restart (conv_man.clj restructure-json-conv)."""
    state.groupings = {}
    state.last_k = None
    state.last_k_count = 0
    state.smoothed_k = None


# ----------------------------------------------------------------------------------------------
# Statistics on the final update (repness.clj, stats.clj, conversation.clj)


def _prop_test(succ: FloatArray, n: FloatArray) -> FloatArray:
    """stats.clj ``prop-test``: one-proportion z-score with +1 pseudocounts."""
    s, m = succ + 1.0, n + 1.0
    result: FloatArray = 2.0 * np.sqrt(m) * (s / m - 0.5)
    return result


def _two_prop_test(
    succ_in: FloatArray, succ_out: FloatArray, pop_in: FloatArray, pop_out: FloatArray
) -> FloatArray:
    """stats.clj ``two-prop-test`` with +1 pseudocounts; 0 where the pooled share is 1."""
    s1, s2, n1, n2 = succ_in + 1.0, succ_out + 1.0, pop_in + 1.0, pop_out + 1.0
    pi1, pi2 = s1 / n1, s2 / n2
    pi_hat = (s1 + s2) / (n1 + n2)
    var = pi_hat * (1.0 - pi_hat) * (1.0 / n1 + 1.0 / n2)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (pi1 - pi2) / np.sqrt(var)
    result: FloatArray = np.where(pi_hat >= 1.0, 0.0, z)
    return result


@dataclass
class _GroupStats:
    na: FloatArray  # groups x statements
    nd: FloatArray
    ns: FloatArray
    pa: FloatArray
    pd: FloatArray
    pat: FloatArray
    pdt: FloatArray
    ra: FloatArray
    rd: FloatArray
    rat: FloatArray
    rdt: FloatArray


def _group_counts(
    snap: _Snapshot, row_group: IntArray, n_groups: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Agree, disagree and seen counts per group (rows with group -1 are ignored)."""
    g = row_group[snap.rows]
    keep = g >= 0
    g, c, v = g[keep], snap.cols[keep], snap.vals[keep]
    size = n_groups * snap.n_cols
    flat = g * snap.n_cols + c
    shape = (n_groups, snap.n_cols)
    na = np.bincount(flat[v > 0], minlength=size).reshape(shape).astype(np.float64)
    nd = np.bincount(flat[v < 0], minlength=size).reshape(shape).astype(np.float64)
    ns = np.bincount(flat, minlength=size).reshape(shape).astype(np.float64)
    return na, nd, ns


def _repness_stats(na: FloatArray, nd: FloatArray, ns: FloatArray) -> _GroupStats:
    pa = (na + 1.0) / (ns + 2.0)
    pd = (nd + 1.0) / (ns + 2.0)
    rest_na, rest_nd, rest_ns = na.sum(0) - na, nd.sum(0) - nd, ns.sum(0) - ns
    ra = pa / ((rest_na + 1.0) / (rest_ns + 2.0))
    rd = pd / ((rest_nd + 1.0) / (rest_ns + 2.0))
    return _GroupStats(
        na,
        nd,
        ns,
        pa,
        pd,
        _prop_test(na, ns),
        _prop_test(nd, ns),
        ra,
        rd,
        _two_prop_test(na, rest_na, ns, rest_ns),
        _two_prop_test(nd, rest_nd, ns, rest_ns),
    )


def _finalize_rep(st: _GroupStats, g: int, j: int, statement: str) -> RepStatement:
    """repness.clj ``finalize-cmt-stats``: agree if rat > rdt, else disagree."""
    agree = bool(st.rat[g, j] > st.rdt[g, j])
    return RepStatement(
        statement=statement,
        direction="agree" if agree else "disagree",
        n_success=int(st.na[g, j] if agree else st.nd[g, j]),
        n_trials=int(st.ns[g, j]),
        probability=float(st.pa[g, j] if agree else st.pd[g, j]),
        p_test=float(st.pat[g, j] if agree else st.pdt[g, j]),
        repness=float(st.ra[g, j] if agree else st.rd[g, j]),
        repness_test=float(st.rat[g, j] if agree else st.rdt[g, j]),
        agree=int(st.na[g, j]),
        disagree=int(st.nd[g, j]),
        seen=int(st.ns[g, j]),
    )


def _select_rep(
    st: _GroupStats, g: int, columns: IntArray, names: list[str]
) -> list[RepStatement]:
    """repness.clj ``select-rep-comments`` for group g over the given columns (in order)."""
    pat, pdt, rat, rdt = st.pat[g], st.pdt[g], st.rat[g], st.rdt[g]
    passes = ((rat > Z_90) & (pat > Z_90)) | ((rdt > Z_90) & (pdt > Z_90))
    sufficient = [int(j) for j in columns if passes[j]]
    best_agree: int | None = None
    for j in columns.tolist():
        if st.na[g, j] == 0 and st.nd[g, j] == 0:
            continue
        if best_agree is None:
            ok = bool(pat[j] > Z_90 or (st.ra[g, j] > 1.0 and st.pa[g, j] > 0.5))
        elif st.ra[g, best_agree] > 1.0:
            b = best_agree
            ok = bool(
                st.ra[g, j] * rat[j] * st.pa[g, j] * pat[j]
                > st.ra[g, b] * rat[b] * st.pa[g, b] * pat[b]
            )
        else:
            ok = bool(st.pa[g, j] * pat[j] > st.pa[g, best_agree] * pat[best_agree])
        if ok:
            best_agree = j
    head: list[RepStatement] = []
    if best_agree is not None:
        rep = _finalize_rep(st, g, best_agree, names[best_agree])
        rep.best_agree = True
        head = [rep]
    if not sufficient:
        if head:
            return head
        if columns.size == 0:
            return []
        score = np.maximum(rat[columns], rdt[columns])
        best = int(columns[int(np.argmax(score))])
        return [_finalize_rep(st, g, best, names[best])]
    reps = [_finalize_rep(st, g, j, names[j]) for j in sufficient if j != best_agree]
    reps.sort(key=lambda r: -(r.repness * r.repness_test * r.probability * r.p_test))
    chosen = (head + reps)[:MAX_REPRESENTATIVE]
    return [r for r in chosen if r.direction == "agree"] + [
        r for r in chosen if r.direction != "agree"
    ]


def _consensus(snap: _Snapshot, columns: IntArray, names: list[str]) -> dict[str, list[str]]:
    """repness.clj ``consensus-stats`` + ``select-consensus-comments`` over all voters."""
    na = np.bincount(snap.cols[snap.vals > 0], minlength=snap.n_cols).astype(np.float64)
    nd = np.bincount(snap.cols[snap.vals < 0], minlength=snap.n_cols).astype(np.float64)
    ns = np.bincount(snap.cols, minlength=snap.n_cols).astype(np.float64)
    return consensus_statements(
        [names[j] for j in columns.tolist()], na[columns], nd[columns], ns[columns]
    )


def consensus_statements(
    names: Sequence[str], agree: FloatArray, disagree: FloatArray, seen: FloatArray
) -> dict[str, list[str]]:
    """Polis's consensus statements from each statement's overall agree, disagree and seen
    counts (in ``names`` order, which breaks ties): ``pa > 0.5`` and a significant ``pat``,
    ranked by ``pa * pat``, at most :data:`MAX_CONSENSUS` per direction."""
    out: dict[str, list[str]] = {}
    for key, n in (("agree", agree), ("disagree", disagree)):
        p = (n + 1.0) / (seen + 2.0)
        z = _prop_test(n, seen)
        ok = np.flatnonzero((p > 0.5) & (z > Z_90))
        ranked = ok[np.argsort(-(p[ok] * z[ok]), kind="stable")][:MAX_CONSENSUS]
        out[key] = [names[j] for j in ranked.tolist()]
    return out


@dataclass
class StatementStats:
    """What :func:`statement_stats` finds: per group, its representative statements; per
    statement, its group-aware consensus; the divisive statements and their variances."""

    representative: list[list[RepStatement]]
    group_aware_consensus: dict[str, float]
    divisive: list[str]
    divisive_scores: dict[str, float]


def statement_stats(
    names: Sequence[str], agree: FloatArray, disagree: FloatArray, seen: FloatArray
) -> StatementStats:
    """Polis's statement statistics from per-group counts (groups x statements arrays, the
    statements in ``names`` order): what :func:`analyze` computes over all its groups, for a
    caller that must restrict it to some groups and statements (the published summary does).

    Representative statements as repness.clj selects them (each group against the others
    given); group-aware consensus as conversation.clj computes it (product over the groups of
    ``(A+1)/(S+2)``); divisive statements as described in :class:`AnalysisResult`.
    """
    columns = np.arange(len(names), dtype=np.int64)
    stats = _repness_stats(agree, disagree, seen)
    representative = [_select_rep(stats, g, columns, list(names)) for g in range(agree.shape[0])]
    prob = (agree + 1.0) / (seen + 2.0)
    product = prob.prod(axis=0)
    gac = {names[j]: float(product[j]) for j in columns.tolist()}
    seen_by = (seen > 0).sum(axis=0)
    scores: dict[str, float] = {}
    for j in columns.tolist():
        if seen_by[j] >= 2:
            scores[names[j]] = float(np.var(prob[seen[:, j] > 0, j]))
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    divisive = [s for s, v in ranked if v >= MIN_DIVISIVE_VARIANCE][:MAX_DIVISIVE]
    return StatementStats(representative, gac, divisive, scores)


def _result(
    data: _Votes,
    snap: _Snapshot,
    outcome: _Outcome,
    seed: int,
    updates: int,
    method: str,
) -> AnalysisResult:
    names = data.statements
    people = data.participants
    active_cols = np.flatnonzero(~snap.mod[: snap.n_cols])
    voted = np.bincount(snap.cols, minlength=snap.n_cols) > 0
    columns = active_cols[voted[active_cols]]
    coords = {
        people[i]: (float(outcome.proj[i, 0]), float(outcome.proj[i, 1]))
        for i in range(snap.n_rows)
    }
    n_votes = int(np.count_nonzero(~snap.mod[snap.cols]))
    consensus = _consensus(snap, columns, names)
    groups, assignments, found = _opinion_groups(data, snap, outcome, columns)
    return AnalysisResult(
        analysis_version=ANALYSIS_VERSION,
        seed=seed,
        participants=snap.n_rows,
        participants_clustered=int(outcome.in_conv_rows.size),
        statements=int(columns.size),
        votes=n_votes,
        groups=groups,
        assignments=assignments,
        coords=coords,
        consensus=consensus,
        group_aware_consensus=found.group_aware_consensus if found else {},
        divisive=found.divisive if found else [],
        divisive_scores=found.divisive_scores if found else {},
        silhouettes=outcome.silhouettes(),
        updates=updates,
        method=method,
    )


def _opinion_groups(
    data: _Votes, snap: _Snapshot, outcome: _Outcome, columns: IntArray
) -> tuple[list[OpinionGroup], dict[str, int], StatementStats | None]:
    """The groups of the clustered participants (numbered 0..k-1 in Polis's id order), each
    participant's group, and the statistics of the ``columns`` over the groups (None when
    nobody is clustered)."""
    names, people = data.statements, data.participants
    rows_in = outcome.in_conv_rows
    if not rows_in.size:
        return [], {}, None
    if outcome.grouping is not None:
        base_pos = np.searchsorted(outcome.base.ids, outcome.base.labels)
        polis_gid = outcome.grouping.group_ids[base_pos]  # per in-conv row
        gid = np.unique(polis_gid, return_inverse=True)[1].reshape(-1)  # 0..k-1, id order
    else:  # no grouping possible (degenerate input): everybody clustered is one group
        gid = np.zeros(rows_in.size, np.int64)
    n_groups = int(gid.max()) + 1
    row_group = np.full(snap.n_rows, -1, np.int64)
    row_group[rows_in] = gid
    na, nd, ns = _group_counts(snap, row_group, n_groups)
    found = statement_stats(
        [names[j] for j in columns.tolist()], na[:, columns], nd[:, columns], ns[:, columns]
    )
    groups = []
    for g in range(n_groups):
        rows = rows_in[gid == g]
        centre = outcome.proj[rows].mean(axis=0)
        groups.append(
            OpinionGroup(
                id=g,
                size=int(rows.size),
                members=[people[i] for i in rows.tolist()],
                representative=found.representative[g],
                centre=(float(centre[0]), float(centre[1])),
            )
        )
    assignments = {people[i]: g for i, g in zip(rows_in.tolist(), gid.tolist(), strict=True)}
    return groups, assignments, found


def _empty_result(seed: int, method: str) -> AnalysisResult:
    return AnalysisResult(
        analysis_version=ANALYSIS_VERSION,
        seed=seed,
        participants=0,
        participants_clustered=0,
        statements=0,
        votes=0,
        groups=[],
        assignments={},
        coords={},
        consensus={"agree": [], "disagree": []},
        group_aware_consensus={},
        divisive=[],
        updates=0,
        method=method,
    )


# ----------------------------------------------------------------------------------------------
# Entry points


def analyze(
    votes: Iterable[Vote], *, moderated_out: Collection[str] = (), seed: int = 0
) -> AnalysisResult:
    """One Polis update over all the votes, from a blank state (a cold start).

    A participant's latest vote on a statement counts (ties: the later one in ``votes``).
    Statements in ``moderated_out`` are zeroed as Polis zeroes moderated-out and meta
    statements: they take no part in the map, the groups or the statement lists. ``seed`` only
    matters for very large conversations (the ARPACK start vector); results are deterministic.
    """
    data = _prepare(votes, moderated_out)
    if data.rows.size == 0:
        return _empty_result(seed, "single")
    with _single_threaded_blas():
        n_rows, n_cols = len(data.participants), len(data.statements)
        idx = _latest(data.rows, data.cols, n_cols)
        snap = _Snapshot(n_rows, n_cols, data.rows[idx], data.cols[idx], data.vals[idx], data.mod)
        counts = np.bincount(snap.rows, minlength=n_rows)
        state = _State()
        in_conv = _sticky_in_conv(state.in_conv, counts, n_cols)
        outcome = _update(state, snap, in_conv, seed)
        return _result(data, snap, outcome, seed, 1, "single")


def _poll_windows(times: FloatArray, poll: float) -> IntArray:
    """End index (exclusive) of each poll window: a window opens at the first vote after the
    previous one closed and takes every vote within ``poll`` of it."""
    ends: list[int] = []
    values = times.tolist()
    n = len(values)
    i = 0
    while i < n:
        i = bisect.bisect_right(values, values[i] + poll, lo=i)
        ends.append(i)
    return np.asarray(ends, dtype=np.int64)


def _schedule(
    times: FloatArray, polls: IntArray, policy: ReplayBatching, scale: float
) -> tuple[list[int], set[int]]:
    """Vote counts after which updates run, and those after which the worker restarts."""
    restarts: set[int] = set()
    forced = set(polls[-max(policy.final_polls, 1) :].tolist())
    if policy.restart_gap_seconds is not None:
        starts = polls[:-1]
        gaps = times[starts] - times[starts - 1]
        for s in starts[gaps > policy.restart_gap_seconds * scale].tolist():
            forced.add(int(s))  # the last update before the pause
            restarts.add(int(s))
    budget = max(policy.max_updates - len(forced), 1)
    base = max(policy.poll_seconds, 1e-9) * scale
    windows = polls
    if windows.size > budget:
        # Smallest i with at most `budget` windows for the period base * 1.5**i (the count of
        # windows never grows with the period): exponential, then binary search.
        span = float(times[-1] - times[0])
        hi = max(1, math.ceil(math.log(max(span / base, 1.0) + 1.0, 1.5)) + 1)
        lo = 0  # polls (i = 0) has too many windows
        best = _poll_windows(times, base * 1.5**hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            trial = _poll_windows(times, base * 1.5**mid)
            if trial.size <= budget:
                hi, best = mid, trial
            else:
                lo = mid
        windows = best
    return sorted(set(windows.tolist()) | forced), restarts


def replay(
    votes: Iterable[Vote],
    *,
    moderated_out: Collection[str] = (),
    seed: int = 0,
    batch: ReplayBatching | int | None = None,
    time_unit: float | None = None,
) -> AnalysisResult:
    """Replay the votes in time order through successive Polis updates (see
    :class:`ReplayBatching`), carrying Polis's state from one update to the next: sticky
    in-conv set, base and group clusters warm-started from the previous update, group-k
    smoother, PCA signs. The final update gives the result.

    ``batch`` is a :class:`ReplayBatching`, or an int for an update every that many votes.
    ``time_unit`` is the length of one timestamp unit in seconds; by default milliseconds
    (Polis exports) are assumed when timestamps exceed 1e11, seconds otherwise. Votes with
    equal timestamps keep their order in ``votes``.
    """
    data = _prepare(votes, moderated_out)
    if data.rows.size == 0:
        return _empty_result(seed, "replay")
    with _single_threaded_blas():
        snap, outcome, state = _run_replay(data, seed, batch, time_unit)
        return _result(data, snap, outcome, seed, state.updates, "replay")


def _replay_plan(
    data: _Votes, batch: ReplayBatching | int | None, time_unit: float | None
) -> tuple[list[int], set[int], IntArray]:
    """When a replay updates (vote counts), when it restarts, and where poll windows end."""
    n_total = data.rows.size
    if time_unit is None:
        time_unit = 0.001 if float(np.max(np.abs(data.times))) > 1e11 else 1.0
    scale = 1.0 / time_unit  # timestamp units per second
    restarts: set[int] = set()
    if isinstance(batch, int):
        step = max(batch, 1)
        points = sorted(set(range(step, n_total, step)) | {n_total})
        windows = _poll_windows(data.times, scale)
    else:
        policy = batch if batch is not None else ReplayBatching()
        windows = _poll_windows(data.times, policy.poll_seconds * scale)
        points, restarts = _schedule(data.times, windows, policy, scale)
    return points, restarts, windows


@dataclass
class _Slots:
    """The current vote of each (participant, statement) slot, as the stream is replayed,
    and how many slots each participant has voted in."""

    index: IntArray  # the slot of each vote of the stream
    rows: IntArray
    cols: IntArray
    val: FloatArray
    seen: BoolArray
    counts: IntArray

    @classmethod
    def of(cls, data: _Votes) -> _Slots:
        width = max(len(data.statements), 1)
        keys, slot = np.unique(data.rows * width + data.cols, return_inverse=True)
        return cls(
            slot.reshape(-1),
            keys // width,
            keys % width,
            np.zeros(keys.size),
            np.zeros(keys.size, np.bool_),
            np.zeros(len(data.participants), np.int64),
        )

    def apply(self, data: _Votes, lo: int, hi: int) -> tuple[IntArray, BoolArray]:
        """Votes lo..hi-1 arrive; a slot's latest vote wins. Returns the slots voted and
        which of them were voted for the first time."""
        s_idx = self.index[lo:hi]
        touched, last = np.unique(s_idx[::-1], return_index=True)
        is_fresh = ~self.seen[touched]
        fresh = touched[is_fresh]
        self.seen[fresh] = True
        self.counts[:] += np.bincount(self.rows[fresh], minlength=self.counts.size)
        self.val[touched] = data.vals[lo:hi][::-1][last]
        return touched, is_fresh


def _warm_pca(data: _Votes, updates: int) -> WarmPCA | None:
    """A replay's warm-started PCA, when the cold analysis's PCA would be dense and the
    updates are many (a replay of a few dozen updates far apart gains nothing from it)."""
    n_rows, active = len(data.participants), ~data.mod
    m = int(active.sum())
    if n_rows * m > DENSE_PCA_MAX_CELLS or m > DENSE_EIGH_MAX_COLUMNS:
        return None
    if updates < WARM_MIN_UPDATES:
        return None
    return WarmPCA(n_rows, len(data.statements), active)


def _snapshot_of(
    slots: _Slots, n_rows: int, n_cols: int, data: _Votes, votes: bool = True
) -> _Snapshot:
    """The rating matrix of the first n_rows x n_cols so far (without its votes when
    ``votes`` is false: a warm replay update reads only the sizes)."""
    if not votes:
        none = np.zeros(0, np.int64)
        return _Snapshot(n_rows, n_cols, none, none, np.zeros(0), data.mod[:n_cols])
    live = np.flatnonzero(slots.seen)
    return _Snapshot(
        n_rows, n_cols, slots.rows[live], slots.cols[live], slots.val[live], data.mod[:n_cols]
    )


def _run_queued(
    state: _State,
    queued: list[tuple[_Snapshot, BoolArray, int, bool, WarmStep | None]],
    warm: WarmPCA | None,
    seed: int,
) -> _Outcome:
    """The queued updates of a replay, in order (without a warm PCA, one at a time); the
    last one's outcome. A restart can only be the last (the queue is run at one)."""
    if warm is not None:
        warm.solve(state.comps, seed, _leading_eigenvectors)
    outcome = None
    for snap, in_conv, polls, restart, step in queued:
        pca = None if warm is None or step is None else (warm, step)
        outcome = _update(state, snap, in_conv, seed, polls, pca)
        if restart:
            _restart(state)
            if warm is not None:
                again = warm.components(state.comps, snap.n_rows, seed, _leading_eigenvectors)
                pca = (warm, again)
            outcome = _update(state, snap, in_conv, seed, 1, pca)  # recompute on load
    assert outcome is not None
    return outcome


def _run_replay(
    data: _Votes, seed: int, batch: ReplayBatching | int | None, time_unit: float | None
) -> tuple[_Snapshot, _Outcome, _State]:
    points, restarts, windows = _replay_plan(data, batch, time_unit)
    slots = _Slots.of(data)
    warm = _warm_pca(data, len(points))
    counts = slots.counts
    max_row = np.maximum.accumulate(data.rows)
    max_col = np.maximum.accumulate(data.cols)
    state = _State()
    in_conv = np.zeros(0, np.bool_)
    outcome: _Outcome | None = None
    update_at = set(points)
    n_total = points[-1]
    # Early on, in-conv changes at every poll (top-ups to 15 participants, fewer than 7
    # statements): follow it poll by poll; afterwards only reaching MIN_VOTES votes adds
    # participants, which is checked at each update.
    events = sorted(update_at | set(windows.tolist()))
    poll_ends = set(windows.tolist())
    early = True
    applied = n_rows = n_cols = 0
    polls_since = 0  # poll windows closed since the previous update
    # With a warm PCA, updates are queued until its batch is full (their PCA depends on the
    # votes only), then run one by one: (snapshot, in-conv, polls, restart after it, step).
    queued: list[tuple[_Snapshot, BoolArray, int, bool, WarmStep | None]] = []
    for end in events:
        if end in poll_ends:
            polls_since += 1
        if not early and end not in update_at:
            continue
        touched, fresh = slots.apply(data, applied, end)
        if warm is not None:
            warm.apply(slots.rows[touched], slots.cols[touched], slots.val[touched], fresh)
        applied = end
        n_rows, n_cols = int(max_row[end - 1]) + 1, int(max_col[end - 1]) + 1
        if early:
            if end in poll_ends:
                in_conv = _sticky_in_conv(in_conv, counts[:n_rows], n_cols)
                early = n_cols < MIN_VOTES or int(in_conv.sum()) < GREEDY_N
        else:
            grown = np.zeros(n_rows, np.bool_)
            grown[: in_conv.size] = in_conv[:n_rows]
            in_conv = grown | (counts[:n_rows] >= MIN_VOTES)
        if end not in update_at:
            continue
        if in_conv.size < n_rows:  # an update inside an early poll window
            in_conv = _sticky_in_conv(in_conv, counts[:n_rows], n_cols)
        snap = _snapshot_of(slots, n_rows, n_cols, data, votes=warm is None)
        restart = end in restarts
        step = None if warm is None else warm.mark(n_rows)
        queued.append((snap, in_conv, max(polls_since, 1), restart, step))
        polls_since = 0
        if warm is None or len(queued) == warm.capacity or restart or end == n_total:
            outcome = _run_queued(state, queued, warm, seed)
            queued = []
    assert outcome is not None
    return _snapshot_of(slots, n_rows, n_cols, data), outcome, state
