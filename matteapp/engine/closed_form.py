"""Closed-form matting (Levin et al. 2008): the classical baseline beside MEMatte.

The method is pymatting's ``estimate_alpha_cf`` — the same matting Laplacian (ε = 1e-7, 3×3 windows),
the same split into unknown and known pixels, the same conjugate-gradient solver and tolerance — taken
apart so that a run can be cancelled within a fraction of a second and reports how far it is:

* the Laplacian is built per 256-px tile of window centres, and only for tiles that reach an unknown
  pixel (pymatting builds 25 entries for every pixel of the photo: 9 GB at 22 MP);
* the preconditioner is a shifted incomplete Cholesky factorization without fill, IC(0), computed in
  chunks of rows.  pymatting's thresholded ``ichol`` converges in fewer iterations but is one
  uninterruptible call: 5 s for the 180 000 unknown pixels of a dev photo, 51 s for 1.6 million,
  and its triangular solves made each iteration 2.5 s long at that size.  IC(0) costs 0.2 s and
  0.3 s per iteration there; the whole solve took about as long on the dev photos and 1.5× as long
  at 1.6 million unknowns (2-core CPU shared with a training run);
* pymatting's ``cg`` runs with a callback that polls ``cancel`` and reports progress after every
  iteration, as the fraction of the way (on a log scale) from the first residual to the tolerance.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import numba
import numpy as np
import scipy.sparse as sp
from pymatting import cf_laplacian
from pymatting.solver.cg import cg

from matteapp.base import Cancelled
from matteapp.model.predictor import validate_inputs

log = logging.getLogger(__name__)

EPSILON = 1e-7
RADIUS = 1
RTOL = 1e-7
MAX_ITERATIONS = 10_000
TILE = 256
"""Side of the tiles of window centres the Laplacian is built in: about 0.1 s each."""
IC_CHUNK_ROWS = 100_000
IC_SHIFTS = (0.03, 0.1, 0.3, 1.0)
"""Diagonal shifts tried, in order, until IC(0) has no pivot ≤ 0.  The matting Laplacian is not an
M-matrix, so plain IC(0) breaks down; 0.03 was the smallest shift without breakdowns on the dev photos
(0.01 broke down on 182 rows of GT04) and converged fastest (0.1 needed 25 % more iterations)."""

# Shares of the progress bar per phase, from the dev photos' timings (the solve dominates).
_SHARE_LAPLACIAN = 0.15
_SHARE_PRECONDITIONER = 0.05

Progress = Callable[[float, str], None]


def closed_form_alpha(
    image: np.ndarray,
    trimap: np.ndarray,
    cancel: Callable[[], bool] | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """H×W float32 alpha in [0, 1] of ``image`` (H×W×3 uint8 RGB) for ``trimap`` (H×W uint8 0/128/255).

    Every trimap value other than 0 and 255 counts as unknown; known pixels are exactly 0 or 1.

    ``cancel`` is polled between Laplacian tiles, between chunks of the preconditioner and after every
    solver iteration (each a fraction of a second, also at 20+ megapixels), raising
    :class:`~matteapp.base.Cancelled` when it returns true.  ``progress(fraction, message)`` is called
    at the same points.  Time and memory grow with the unknown pixels, not with the photo.
    """
    validate_inputs(image, trimap)
    emit = progress or (lambda fraction, message: None)

    def check_cancel() -> None:
        if cancel is not None and cancel():
            raise Cancelled("closed-form matting cancelled")

    check_cancel()
    known_fg = trimap == 255
    unknown = ~known_fg & (trimap != 0)
    alpha = known_fg.astype(np.float32)
    if not unknown.any():
        return alpha
    # Without samples of one kind the Laplacian's only solution is the other kind everywhere (pymatting
    # refuses such trimaps outright): a trimap with no foreground mattes to nothing, not to an error.
    if not known_fg.any():
        return alpha
    if not (trimap == 0).any():
        alpha[unknown] = 1.0
        return alpha
    if min(trimap.shape) < 2 * RADIUS + 1:
        raise ValueError(f"closed-form matting needs a photo of at least {2 * RADIUS + 1}×{2 * RADIUS + 1} pixels")

    system = _build_system(image, known_fg, unknown, check_cancel, lambda f, m: emit(_SHARE_LAPLACIAN * f, m))
    ys, xs, matrix, lower, rhs = system
    factor = _ic0(lower, check_cancel, lambda f, m: emit(_SHARE_LAPLACIAN + _SHARE_PRECONDITIONER * f, m))
    start = _SHARE_LAPLACIAN + _SHARE_PRECONDITIONER
    solution = _solve(matrix, rhs, factor, check_cancel, lambda f, m: emit(start + (1 - start) * f, m))
    alpha[ys, xs] = np.clip(solution, 0.0, 1.0)
    emit(1.0, "closed-form matting done")
    return alpha


# ------------------------------------------------------------------------------------------ Laplacian


def _build_system(image, known_fg, unknown, check_cancel, emit):
    """(ys, xs, L_U, lower triangle of L_U, b) of the system L_U x = b = −R·fg over the unknown pixels.

    Unknown pixels are numbered tile by tile (raster order inside a tile), so that each tile's rows of
    L_U are complete after one pass over it and the matrix is the tiles' row blocks stacked: a tile's
    pixels get the windows centred within ``RADIUS`` of them, computed on the tile grown by 2·RADIUS.
    """
    h, w = unknown.shape
    r = RADIUS
    ys, xs = np.nonzero(unknown)
    tiles_x = -(-w // TILE)
    tile_of = (ys // TILE) * tiles_x + xs // TILE
    order = np.lexsort((xs, ys, tile_of))
    ys, xs, tile_of = ys[order], xs[order], tile_of[order]
    n = ys.size
    number = np.full((h, w), -1, dtype=np.int32 if n < 2**31 else np.int64)
    number[ys, xs] = np.arange(n)
    known = ~unknown
    starts = np.flatnonzero(np.r_[True, tile_of[1:] != tile_of[:-1]])
    ends = np.r_[starts[1:], n]
    blocks, lowers = [], []
    rhs = np.zeros(n)
    for k, (s, e) in enumerate(zip(starts, ends)):
        check_cancel()
        emit(k / len(starts), f"closed-form: matting Laplacian, tile {k + 1} of {len(starts)}")
        tile = int(tile_of[s])
        ty0, tx0 = (tile // tiles_x) * TILE, (tile % tiles_x) * TILE
        ty1, tx1 = min(h, ty0 + TILE), min(w, tx0 + TILE)
        # every window touching the tile's pixels: centres up to r outside it, their pixels up to 2r
        sy0, sy1 = max(0, ty0 - 2 * r), min(h, ty1 + 2 * r)
        sx0, sx1 = max(0, tx0 - 2 * r), min(w, tx1 + 2 * r)
        sub = image[sy0:sy1, sx0:sx1].astype(np.float64) / 255.0
        laplacian = cf_laplacian(sub, EPSILON, r, is_known=known[sy0:sy1, sx0:sx1])
        sw = sx1 - sx0
        rows = (ys[s:e] - sy0) * sw + (xs[s:e] - sx0)
        part = laplacian[rows].tocoo()
        cy, cx = np.divmod(part.col, sw)
        cy += sy0
        cx += sx0
        column = number[cy, cx]
        is_unknown = column >= 0
        fg = ~is_unknown & known_fg[cy, cx]
        rhs[s:e] -= np.bincount(part.row[fg], weights=part.data[fg], minlength=e - s)
        # zeros (windows skipped as all known) are dropped, but never the diagonal: IC(0) expects it last in each row
        keep = is_unknown & ((part.data != 0) | (column == part.row + s))
        block = sp.csr_matrix((part.data[keep], (part.row[keep], column[keep])), shape=(e - s, n))
        block.sum_duplicates()
        block.sort_indices()
        blocks.append(block)
        lower = sp.tril(block, k=s, format="csr")
        lower.sort_indices()
        lowers.append(lower)
        del laplacian, part
    check_cancel()
    matrix = sp.vstack(blocks, format="csr")
    lower = sp.vstack(lowers, format="csr")
    return ys, xs, matrix, lower, rhs


# ------------------------------------------------------------------------------------ preconditioner


@numba.njit(cache=True, nogil=True)
def _ic0_rows(indptr, indices, data, shift, out, start, stop):  # pragma: no cover — compiled
    """Rows [start, stop) of IC(0) of the lower triangle (CSR, sorted, diagonal last in each row) of
    A + shift·diag(A), into ``out``; returns how many pivots were not positive."""
    breakdowns = 0
    for i in range(start, stop):
        p0, p1 = indptr[i], indptr[i + 1]
        for p in range(p0, p1 - 1):
            k = indices[p]
            s = data[p]
            r, q, q_end = p0, indptr[k], indptr[k + 1] - 1
            while r < p and q < q_end:
                a, b = indices[r], indices[q]
                if a == b:
                    s -= out[r] * out[q]
                    r += 1
                    q += 1
                elif a < b:
                    r += 1
                else:
                    q += 1
            out[p] = s / out[indptr[k + 1] - 1]
        d = data[p1 - 1] * (1.0 + shift)
        for p in range(p0, p1 - 1):
            d -= out[p] * out[p]
        if d <= 0.0:
            breakdowns += 1
            d = data[p1 - 1] * (1.0 + shift)
        out[p1 - 1] = math.sqrt(d)
    return breakdowns


@numba.njit(cache=True, nogil=True)
def _ic0_apply(indptr, indices, values, b):  # pragma: no cover — compiled
    """(L·Lᵀ)⁻¹ b for the IC(0) factor L (CSR lower triangle, diagonal last in each row)."""
    n = b.size
    y = b.copy()
    for i in range(n):
        s = y[i]
        last = indptr[i + 1] - 1
        for p in range(indptr[i], last):
            s -= values[p] * y[indices[p]]
        y[i] = s / values[last]
    for i in range(n - 1, -1, -1):
        last = indptr[i + 1] - 1
        y[i] /= values[last]
        z = y[i]
        for p in range(indptr[i], last):
            y[indices[p]] -= values[p] * z
    return y


def _ic0(lower: sp.csr_matrix, check_cancel, emit) -> Callable[[np.ndarray], np.ndarray]:
    """The preconditioner x ↦ (L·Lᵀ)⁻¹ x of a shifted IC(0) of ``lower``'s symmetric matrix."""
    n = lower.shape[0]
    indptr, indices, data = lower.indptr.astype(np.int64), lower.indices.astype(np.int64), lower.data
    values = np.empty_like(data)
    for attempt, shift in enumerate(IC_SHIFTS):
        breakdowns = 0
        for start in range(0, n, IC_CHUNK_ROWS):
            check_cancel()
            emit((attempt + start / n) / len(IC_SHIFTS), "closed-form: preconditioner")
            breakdowns += _ic0_rows(indptr, indices, data, shift, values, start, min(n, start + IC_CHUNK_ROWS))
        if breakdowns == 0:
            break
        log.debug("IC(0) with shift %g broke down on %d rows", shift, breakdowns)
    return lambda x: _ic0_apply(indptr, indices, values, x)


# --------------------------------------------------------------------------------------------- solve


class _NotConverged(Exception):
    pass


def _solve(matrix, rhs, precondition, check_cancel, emit) -> np.ndarray:
    """pymatting's preconditioned conjugate gradients, polled and reported after every iteration."""
    norm_b = float(np.linalg.norm(rhs))
    if norm_b == 0.0:
        return np.zeros_like(rhs)
    latest: list[np.ndarray] = []
    # log-residual progress: each iteration that shrinks the residual moves the bar by its share of
    # the decades between the first residual (‖b‖, from x = 0) and the tolerance
    decades = math.log10(1.0 / RTOL)
    iterations = 0
    shown = 0.0

    def callback(A, x, b, norm_b, r, norm_r) -> None:
        nonlocal iterations, shown
        iterations += 1
        if not latest:
            latest.append(x)  # cg updates x in place: this stays its current iterate
        check_cancel()
        # CG's residual is not monotone (its error in the energy norm is): the bar keeps its best
        shown = max(shown, min(max(math.log10(norm_b / max(norm_r, 1e-300)) / decades, 0.0), 1.0))
        emit(shown, f"closed-form: solving, iteration {iterations:,}, residual {norm_r / norm_b:.0e} (goal {RTOL:.0e})")

    try:
        return cg(matrix, rhs, rtol=RTOL, maxiter=MAX_ITERATIONS, callback=callback, M=precondition)
    except ValueError:
        # pymatting raises when it has not converged within maxiter; its iterate is still the best alpha there is
        if not latest:
            raise
        log.warning("closed-form solver stopped after %d iterations without reaching the tolerance", iterations)
        return latest[0]
