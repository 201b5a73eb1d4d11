"""Common ground that bridges: a Community Notes-style ranking of the arguments of a round.

Polis's group-aware consensus (:func:`bot.summary.analysis.statement_stats`, the product over
the groups of ``(agree + 1) / (seen + 2)``) rewards a statement that few people saw and none
rejected: on real Polis conversations its top ten holds statements seen by under a fifth of
the participants (4 of 10 on scoop-hivemind.biodiversity, whose first had 73 voters out of
536). Community Notes ranks notes another way (its published scorer,
``documentation/under-the-hood/ranking-notes.md`` in ``twitter/communitynotes``): a matrix
factorisation explains every rating by who rated (how readily they agree, and where they sit
on the main axis of opinion) and what was rated (how agreeable it is *beyond* that axis, and
which side of the axis it appeals to). An argument agreed on by one side only is explained by
the axis; only one agreed on from both sides keeps a high intercept.

The model, for every agree or disagree vote ``r`` of voter ``u`` on argument ``n``::

    r ≈ μ + i_u + i_n + f_u · f_n          (one factor dimension)

with ``r = 1`` for agree and ``r = 0`` for disagree — Community Notes' own mapping of
"helpful" and "not helpful", so that its thresholds keep their meaning. Passes are left out:
a pass says that the voter has no view, not that the argument is half right. It is fitted by
regularised least squares::

    L = mean over votes of (r − r̂)²
        + λ_i · (μ² + mean_u i_u² + mean_n i_n²) + λ_f · (mean_u f_u² + mean_n f_n²)

with Community Notes' ``λ_i = 0.15`` and ``λ_f = 0.03``. The squared error is averaged over
the votes and each penalty over its parameters, so that the constants mean the same for a
round of twenty people as for Community Notes' millions of ratings: an argument with as many
votes as the average argument has its intercept pulled towards 0 as much as ``0.15`` times
that many extra votes would. Because the factors cost five times less, the fit explains by
the axis whatever the axis can explain and leaves in the intercepts only the agreement that
crosses it. And because the factor penalties are averages too, the voters' and the arguments'
factors come out equally spread (same root mean square), which gives ``|f_n| < 0.5`` the same
meaning whatever the numbers of voters and arguments.

The fit is alternating least squares. The arguments' factors start on the main axis of the
votes (:data:`POWER_STEPS` power iterations on the votes centred per argument, from factors
drawn from ``seed``): on the Polis conversations every seed tried then ends in the same, best
minimum, where random starts sometimes stop in a worse one. Each sweep solves exactly, in
closed form, for all the voters' ``(i_u, f_u)`` given the arguments' figures, then for all
the arguments' ``(i_n, f_n)``, then for ``μ``; then it moves, also exactly, along the
directions that leave every prediction unchanged and only trade penalties — rescaling the
voters' factors against the arguments', shifting one side's factors against the other side's
intercepts, ``μ`` against the mean intercepts —, which alternating sweeps alone explore very
slowly. The loss never increases; the loop stops when no argument's intercept or factor
moved by more than :data:`TOLERANCE` in a sweep, or after :data:`MAX_ITERATIONS` sweeps.
Voters and arguments are indexed in sorted order, so the order of the votes does not matter:
the same votes and seed always give the same figures. The sign of the axis is arbitrary (no
direction of it is published); it is fixed so that the argument with the largest ``|f_n|``
has a positive factor.

An argument is **common ground** when ``i_n ≥ 0.40`` and ``|f_n| < 0.5`` (Community Notes'
"helpful" thresholds, on the same 0/1 scale) and it passes gates on engagement, so that a
few votes cannot carry an argument to the top:

* at least :data:`MIN_VOTES` agree or disagree votes (Community Notes: 5 ratings), and from
  at least :data:`MIN_SHARE` of the people who voted in the round (passes count as voting)
  — or, in a conversation so large that the average argument has fewer agree or disagree
  votes than that (each participant votes on a few dozen of hundreds of arguments), at least
  :data:`MIN_SHARE_OF_MEAN` of the average argument's: a share of the room it could reach;
* agree votes from both sides of the axis: at least :data:`MIN_SIDE_AGREES` from voters with
  a negative factor and as many from voters with a positive one.

Common-ground arguments are ranked by intercept (ties: by name). This module is pure
computation, like :mod:`bot.summary.analysis`; what of it is published, and why that is
safe, is decided by :func:`bot.summary.build_summary` (see ``docs/summary-schema.md``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    # Only its fields are read: rendering a summary can import the constants below without
    # loading the opinion-group analysis (SciPy).
    from bot.summary.analysis import Vote

BRIDGING_VERSION = "bridging-1.0"

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

AGREE_RATING = 1.0  # Community Notes' "helpful"
DISAGREE_RATING = 0.0  # Community Notes' "not helpful"; passes are left out
LAMBDA_INTERCEPT = 0.15  # Community Notes' λ_i, on μ and every intercept
LAMBDA_FACTOR = 0.03  # Community Notes' λ_f, on every factor
MIN_INTERCEPT = 0.40  # Community Notes' "helpful" threshold on the note intercept...
MAX_FACTOR = 0.50  # ... and on |f_n|
MIN_VOTES = 5  # agree or disagree votes on the argument (Community Notes: 5 ratings)
MIN_SHARE = 0.10  # of the round's voters, who must have voted agree or disagree on it...
MIN_SHARE_OF_MEAN = 0.5  # ... or of the average argument's agree or disagree votes, if fewer
MIN_SIDE_AGREES = 2  # agree votes from each side of the axis
MAX_ITERATIONS = 1000  # sweeps; the Polis conversations need 20 to 200
TOLERANCE = 1e-6  # largest change of an argument's figures in a sweep, to stop
POWER_STEPS = 20  # power iterations for the starting axis
INIT_SCALE = 0.1  # root mean square of the arguments' starting factors


@dataclass(frozen=True)
class BridgingConfig:
    """The model's constants and the common-ground gates (defaults: the module constants)."""

    lambda_intercept: float = LAMBDA_INTERCEPT
    lambda_factor: float = LAMBDA_FACTOR
    min_intercept: float = MIN_INTERCEPT
    max_factor: float = MAX_FACTOR
    min_votes: int = MIN_VOTES
    min_share: float = MIN_SHARE
    min_share_of_mean: float = MIN_SHARE_OF_MEAN
    min_side_agrees: int = MIN_SIDE_AGREES
    max_iterations: int = MAX_ITERATIONS
    tolerance: float = TOLERANCE


@dataclass(frozen=True)
class ArgumentFit:
    """One argument's figures: its fitted ``intercept`` and ``factor``, its agree or
    disagree ``votes`` (passes are not counted), its ``agree`` votes, and how many of those
    came from voters with a negative and with a positive factor."""

    statement: str
    intercept: float
    factor: float
    votes: int
    agree: int
    agree_negative: int
    agree_positive: int


@dataclass
class BridgingResult:
    """What :func:`fit_bridging` finds.

    ``participants`` counts the people with any vote (passes and votes on moderated-out
    statements included): the denominator of the share gate. ``raters`` counts those with an
    agree or disagree vote the model saw, ``ratings`` those votes. ``common_ground`` lists
    the common-ground statements, best first. ``voters`` holds each rater's
    ``(intercept, factor)``: the gates need them, and nothing may publish them.
    """

    version: str
    seed: int
    participants: int
    raters: int
    ratings: int
    mu: float
    loss: float
    iterations: int
    converged: bool
    arguments: dict[str, ArgumentFit]
    common_ground: list[str]
    voters: dict[str, tuple[float, float]] = field(repr=False, default_factory=dict)


@dataclass
class Ratings:
    """The model's input: one agree (1) or disagree (0) rating per voter and statement,
    voters and statements indexed in sorted order, ratings ordered by statement then voter
    (so that every sum runs in the same order whatever the order of the votes)."""

    voters: list[str]
    statements: list[str]
    rows: IntArray
    cols: IntArray
    values: FloatArray
    participants: int


def prepare_ratings(votes: Iterable[Vote], moderated_out: Collection[str] = ()) -> Ratings:
    """The agree and disagree votes, one per voter and statement: the latest timestamp wins
    (on equal timestamps, the later vote in ``votes``). Passes and votes on ``moderated_out``
    statements are left out; their voters still count as participants."""
    vote_list = votes if isinstance(votes, Sequence) else list(votes)
    n = len(vote_list)
    values = np.fromiter(map(attrgetter("value"), vote_list), np.int64, n)
    if n and not np.all(np.isin(values, (-1, 0, 1))):
        bad = int(values[~np.isin(values, (-1, 0, 1))][0])
        raise ValueError(f"vote value must be -1, 0 or 1, got {bad}")
    people = list(map(attrgetter("participant"), vote_list))
    statements = list(map(attrgetter("statement"), vote_list))
    p_names = sorted(set(people))
    s_names = sorted(set(statements))
    p_index = {p: i for i, p in enumerate(p_names)}
    s_index = {s: i for i, s in enumerate(s_names)}
    rows = np.fromiter(map(p_index.__getitem__, people), np.int64, n)
    cols = np.fromiter(map(s_index.__getitem__, statements), np.int64, n)
    times = np.fromiter(map(attrgetter("timestamp"), vote_list), np.float64, n)
    # The last of each (statement, voter) run once sorted by time, then input position.
    keys = cols * max(len(p_names), 1) + rows
    order = np.lexsort((np.arange(n), times, keys))
    last = order[np.append(keys[order][1:] != keys[order][:-1], True)] if n else order
    excluded = np.fromiter((s in moderated_out for s in s_names), np.bool_, len(s_names))
    kept = last[(values[last] != 0) & ~excluded[cols[last]]]
    kept_rows, row_of = np.unique(rows[kept], return_inverse=True)
    kept_cols, col_of = np.unique(cols[kept], return_inverse=True)
    return Ratings(
        voters=[p_names[i] for i in kept_rows.tolist()],
        statements=[s_names[j] for j in kept_cols.tolist()],
        rows=row_of.reshape(-1).astype(np.int64),
        cols=col_of.reshape(-1).astype(np.int64),
        values=np.where(values[kept] > 0, AGREE_RATING, DISAGREE_RATING),
        participants=len(p_names),
    )


def _ridge(
    index: IntArray,
    size: int,
    target: FloatArray,
    feature: FloatArray,
    count: FloatArray,
    pen_intercept: float,
    pen_factor: float,
) -> tuple[FloatArray, FloatArray]:
    """For every entity of ``index``, the exact minimiser (i, f) of
    ``Σ (target − i − f·feature)² + pen_intercept·i² + pen_factor·f²`` over its ratings: a
    2 × 2 ridge regression, solved for all the entities at once."""
    s1 = count + pen_intercept
    sx = np.bincount(index, feature, size)
    sxx = np.bincount(index, feature * feature, size) + pen_factor
    sy = np.bincount(index, target, size)
    sxy = np.bincount(index, feature * target, size)
    det = s1 * sxx - sx * sx  # > 0: both penalties are positive
    return (sxx * sy - sx * sxy) / det, (s1 * sxy - sx * sy) / det


@dataclass
class _Params:
    mu: float
    i_row: FloatArray
    f_row: FloatArray
    i_col: FloatArray
    f_col: FloatArray


@dataclass(frozen=True)
class _Penalties:
    """The penalties of the loss multiplied by the number of ratings: each is then a
    pseudo-count of ratings, next to the summed squared errors."""

    mu: float
    i_row: float
    f_row: float
    i_col: float
    f_col: float


def _gauge(p: _Params, pen: _Penalties) -> None:
    """Move exactly to the best point along the directions that change no prediction.

    ``f_u·s, f_n/s``; ``f_u + c, i_n − c·f_n``; ``f_n + d, i_u − d·f_u``; ``μ + e1 + e2,
    i_n − e1, i_u − e2``: each leaves ``μ + i_u + i_n + f_u·f_n`` as it is, so only the
    penalties change, and each optimum is in closed form. Alternating sweeps move along
    these directions by tiny steps only (the penalties are small next to the data).
    """
    n_rows, n_cols = p.i_row.size, p.i_col.size
    norm_row, norm_col = float(p.f_row @ p.f_row), float(p.f_col @ p.f_col)
    if norm_row > 0 and norm_col > 0:
        scale = (pen.f_col * norm_col / (pen.f_row * norm_row)) ** 0.25
        p.f_row *= scale
        p.f_col /= scale
    c = (pen.i_col * float(p.f_col @ p.i_col) - pen.f_row * float(p.f_row.sum())) / (
        pen.f_row * n_rows + pen.i_col * float(p.f_col @ p.f_col)
    )
    p.f_row += c
    p.i_col -= c * p.f_col
    d = (pen.i_row * float(p.f_row @ p.i_row) - pen.f_col * float(p.f_col.sum())) / (
        pen.f_col * n_cols + pen.i_row * float(p.f_row @ p.f_row)
    )
    p.f_col += d
    p.i_row -= d * p.f_row
    # μ against the mean intercepts: a 2 × 2 system, positive definite.
    a11, a22, a12 = pen.mu + pen.i_col * n_cols, pen.mu + pen.i_row * n_rows, pen.mu
    b1 = pen.i_col * float(p.i_col.sum()) - pen.mu * p.mu
    b2 = pen.i_row * float(p.i_row.sum()) - pen.mu * p.mu
    det = a11 * a22 - a12 * a12
    e1, e2 = (a22 * b1 - a12 * b2) / det, (a11 * b2 - a12 * b1) / det
    p.i_col -= e1
    p.i_row -= e2
    p.mu += e1 + e2


def _start(data: Ratings, count_col: FloatArray, seed: int) -> FloatArray:
    """Starting factors of the arguments: the main axis of the votes centred per argument,
    by power iteration from factors drawn from ``seed``."""
    rows, cols, r = data.rows, data.cols, data.values
    n_rows, n_cols = len(data.voters), len(data.statements)
    f_col = np.random.default_rng(seed).normal(0.0, INIT_SCALE, n_cols)
    centred = r - (np.bincount(cols, r, n_cols) / np.maximum(count_col, 1.0))[cols]
    for _ in range(POWER_STEPS):
        left = np.bincount(rows, centred * f_col[cols], n_rows)
        turned = np.bincount(cols, centred * left[rows], n_cols)
        norm = float(np.linalg.norm(turned))
        if norm == 0.0:  # everybody voted alike: no axis to find, keep the random start
            break
        f_col = turned * (INIT_SCALE * np.sqrt(n_cols) / norm)
    return f_col


def _fit(data: Ratings, config: BridgingConfig, seed: int) -> tuple[_Params, float, int, bool]:
    rows, cols, r = data.rows, data.cols, data.values
    n, n_rows, n_cols = r.size, len(data.voters), len(data.statements)
    lam_i, lam_f = config.lambda_intercept, config.lambda_factor
    pen = _Penalties(
        mu=lam_i * n,
        i_row=lam_i * n / n_rows,
        f_row=lam_f * n / n_rows,
        i_col=lam_i * n / n_cols,
        f_col=lam_f * n / n_cols,
    )
    count_row = np.bincount(rows, minlength=n_rows).astype(np.float64)
    count_col = np.bincount(cols, minlength=n_cols).astype(np.float64)
    p = _Params(
        mu=float(r.mean()) / (1.0 + lam_i),
        i_row=np.zeros(n_rows),
        f_row=np.zeros(n_rows),
        i_col=np.zeros(n_cols),
        f_col=_start(data, count_col, seed),
    )
    converged = False
    sweeps = 0
    while sweeps < config.max_iterations:
        sweeps += 1
        before_i, before_f = p.i_col.copy(), p.f_col.copy()
        p.i_row, p.f_row = _ridge(
            rows, n_rows, r - p.mu - p.i_col[cols], p.f_col[cols], count_row, pen.i_row, pen.f_row
        )
        p.i_col, p.f_col = _ridge(
            cols, n_cols, r - p.mu - p.i_row[rows], p.f_row[rows], count_col, pen.i_col, pen.f_col
        )
        rest = p.i_row[rows] + p.i_col[cols] + p.f_row[rows] * p.f_col[cols]
        p.mu = float((r - rest).sum()) / (n + pen.mu)
        _gauge(p, pen)
        moved = max(
            float(np.abs(p.i_col - before_i).max()), float(np.abs(p.f_col - before_f).max())
        )
        if moved <= config.tolerance:
            converged = True
            break
    residual = r - p.mu - p.i_row[rows] - p.i_col[cols] - p.f_row[rows] * p.f_col[cols]
    loss = (
        float(residual @ residual)
        + pen.mu * p.mu * p.mu
        + pen.i_row * float(p.i_row @ p.i_row)
        + pen.f_row * float(p.f_row @ p.f_row)
        + pen.i_col * float(p.i_col @ p.i_col)
        + pen.f_col * float(p.f_col @ p.f_col)
    ) / n
    return p, loss, sweeps, converged


def fit_ratings(
    data: Ratings, *, seed: int = 0, config: BridgingConfig | None = None
) -> BridgingResult:
    """Fit the bridging model on prepared ratings and rank the common-ground arguments."""
    config = config or BridgingConfig()
    if data.values.size == 0:
        return BridgingResult(
            BRIDGING_VERSION, seed, data.participants, 0, 0, 0.0, 0.0, 0, True, {}, []
        )
    p, loss, sweeps, converged = _fit(data, config, seed)
    if p.f_col[int(np.argmax(np.abs(p.f_col)))] < 0:
        p.f_col, p.f_row = -p.f_col, -p.f_row
    n_cols = len(data.statements)
    agreed = data.values > 0.5
    side = p.f_row[data.rows]
    votes = np.bincount(data.cols, minlength=n_cols)
    agree = np.bincount(data.cols[agreed], minlength=n_cols)
    agree_negative = np.bincount(data.cols[agreed & (side < 0)], minlength=n_cols)
    agree_positive = np.bincount(data.cols[agreed & (side > 0)], minlength=n_cols)
    arguments = {
        name: ArgumentFit(
            statement=name,
            intercept=float(p.i_col[j]),
            factor=float(p.f_col[j]),
            votes=int(votes[j]),
            agree=int(agree[j]),
            agree_negative=int(agree_negative[j]),
            agree_positive=int(agree_positive[j]),
        )
        for j, name in enumerate(data.statements)
    }
    mean_votes = data.values.size / len(data.statements)
    share = min(config.min_share * data.participants, config.min_share_of_mean * mean_votes)
    least = max(float(config.min_votes), share)
    ranked = sorted(
        (
            a
            for a in arguments.values()
            if a.intercept >= config.min_intercept
            and abs(a.factor) < config.max_factor
            and a.votes >= least
            and min(a.agree_negative, a.agree_positive) >= config.min_side_agrees
        ),
        key=lambda a: (-a.intercept, a.statement),
    )
    return BridgingResult(
        version=BRIDGING_VERSION,
        seed=seed,
        participants=data.participants,
        raters=len(data.voters),
        ratings=int(data.values.size),
        mu=p.mu,
        loss=loss,
        iterations=sweeps,
        converged=converged,
        arguments=arguments,
        common_ground=[a.statement for a in ranked],
        voters={who: (float(p.i_row[k]), float(p.f_row[k])) for k, who in enumerate(data.voters)},
    )


def fit_bridging(
    votes: Iterable[Vote],
    *,
    seed: int = 0,
    config: BridgingConfig | None = None,
    moderated_out: Collection[str] = (),
) -> BridgingResult:
    """Fit the bridging model on the votes and rank the common-ground arguments.

    A voter's latest vote on a statement counts. ``moderated_out`` statements are left out
    of the model (their voters still count as participants of the round).
    """
    return fit_ratings(prepare_ratings(votes, moderated_out), seed=seed, config=config)
