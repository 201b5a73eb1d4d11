"""Types of the compiled clustering kernels (``clusters.pyx``)."""

import numpy as np
import numpy.typing as npt

_F = npt.NDArray[np.float64]
_I = npt.NDArray[np.int64]
_B = npt.NDArray[np.bool_]

def distinct_count(x: _F) -> int: ...
def first_distinct(x: _F, k: int) -> _I: ...
def weighted_centres(x: _F, labels: _I, n: int, weights: _F | None) -> tuple[_F, _F]: ...
def clean_start(
    x: _F, labels: _I, k: int, weights: _F | None, distinct: int | None
) -> tuple[_I, _F, _I | None]: ...
def kmeans(
    x: _F,
    ids_in: _I,
    centres_in: _F,
    max_iters: int,
    weights: _F | None,
    start: _I | None,
    want_reach: bool,
    tol2: float,
    slack: float,
) -> tuple[_I, _F, _I, _F | None]: ...

class HeldBase:
    def __init__(
        self,
        ic_rows: _I,
        pos: _I,
        m: int,
        points: _F,
        centres: _F,
        reach: _F,
        far_n: int,
        doubts: int,
        slack: float,
    ) -> None: ...
    def still_held(self, x: _F, ic_rows: _I) -> _F | None: ...

class HeldGroups:
    def __init__(
        self,
        ids: _I,
        lab: _I,
        counts: _I,
        sizes: _F,
        own: _F,
        denom: _F,
        means: _F,
        margins: _F,
        points: _F,
        weights: _F,
        best: int,
        doubts: int,
        slack: float,
        tie: float,
    ) -> None: ...
    def still_held(self, ids: _I, p: _F, w: _F) -> bool: ...

def held_groupings(p: _F, w: _F, labels: _I, ks: _I, slack: float) -> tuple[_B, _F]: ...
def silhouette_estimates(p: _F, labels: _I) -> tuple[_F, _I, _I, _F, _F, _F]: ...
def voted_columns(comps: _F, enough: int) -> int: ...
def cluster_sizes(ids: _I, labels: _I) -> _F: ...
