"""Pairwise model comparison: Bradley–Terry ratings, win-rate matrix and position bias.

Votes are parallel arrays, one entry per vote: ``prompt`` (cluster id for the bootstrap),
``model_a`` / ``model_b`` (int codes or strings) and ``outcome`` (1 = A wins, 0.5 = tie, 0 = B wins).
A signed preference scale -k..k (negative = A better, 0 = tie) is converted with
:func:`outcome_from_preference`, or by passing ``scale_k`` to the public functions.

Pure numpy/scipy; no Django.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import expit

from evalplatform.stats.bootstrap import one_blas_thread, percentile_bounds, tails, too_many_undefined
from evalplatform.stats.jsonable import finite, plain

#: Ridge (Gaussian prior precision on the natural-log strengths) applied when the maximum-likelihood
#: estimate does not exist (a model never lost / never won / the comparison graph is disconnected).
#: 0.1 is a N(0, sd≈3.2) prior, i.e. sd ≈ 550 rating points: it keeps ratings finite, barely moves the
#: well-determined ones, and is always reported (``ridge`` / ``identifiable`` / ``reason``).
AUTO_RIDGE = 0.1
_LOG10_E = math.log10(math.e)
_MAX_STEP = 3.0  # largest Newton step (natural-log units) before backtracking


def outcome_from_preference(values: ArrayLike, k: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Signed preference -k..k (negative = A better, 0 = tie) → (outcome, margin).

    outcome is 1 (A wins), 0.5 (tie) or 0 (B wins); margin = |value| / k in [0, 1].  NaN stays NaN.
    """
    v = np.asarray(values, dtype=float)
    if k <= 0:
        raise ValueError("k must be positive")
    if np.any(np.abs(v[~np.isnan(v)]) > k):
        raise ValueError(f"preference values must lie in [-{k}, {k}]")
    outcome = np.where(v < 0, 1.0, np.where(v > 0, 0.0, 0.5))
    outcome[np.isnan(v)] = np.nan
    return outcome, np.abs(v) / k


def _outcomes(outcome: ArrayLike, scale_k: float | None) -> NDArray[np.float64]:
    y = np.asarray(outcome, dtype=float) if scale_k is None else outcome_from_preference(outcome, scale_k)[0]
    ok = np.isnan(y) | np.isclose(y, 0) | np.isclose(y, 0.5) | np.isclose(y, 1)
    if not ok.all():
        raise ValueError("outcome must be 1 (A wins), 0.5 (tie) or 0 (B wins); pass scale_k for a -k..k scale")
    return np.round(y * 2) / 2


# ---------------------------------------------------------------------------------------------------------
# Bradley–Terry core (vectorised over bootstrap resamples)
# ---------------------------------------------------------------------------------------------------------


def _bt_objective(W: NDArray, theta: NDArray, ridge: NDArray) -> NDArray:
    """Penalised BT log-likelihood  Σ W_ij log σ(θi-θj) - λ/2 |θ|² - (Σθ)²/(2M), per resample."""
    M = theta.shape[1]
    D = theta[:, :, None] - theta[:, None, :]
    ll = -(W * np.logaddexp(0.0, -D)).sum(axis=(1, 2))
    return ll - 0.5 * ridge * (theta**2).sum(1) - theta.sum(1) ** 2 / (2 * M)


def _bt_newton(
    W: NDArray, theta0: NDArray, ridge: NDArray, *, max_iter: int = 200, tol: float = 1e-10
) -> tuple[NDArray, NDArray]:
    """Newton–Raphson with backtracking for B Bradley–Terry problems at once.

    ``W`` (B, M, M): W[b, i, j] = wins of i over j (ties half each way).  The (Σθ)²/(2M) term has
    zero gradient at any optimum (the likelihood is shift-invariant) and only pins the mean of θ to 0,
    making the Hessian (graph Laplacian + J/M + λI) positive definite whenever the MLE exists.
    Returns θ (B, M) and a converged flag per resample.
    """
    B, M, _ = W.shape
    N = W + W.transpose(0, 2, 1)
    theta = np.broadcast_to(np.asarray(theta0, float), (B, M)).copy()
    obj = _bt_objective(W, theta, ridge)
    active = np.ones(B, dtype=bool)
    eye, J = np.eye(M), np.full((M, M), 1.0 / M)
    diag = np.arange(M)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        Wa, Na, th, lam = W[idx], N[idx], theta[idx], ridge[idx]
        P = expit(th[:, :, None] - th[:, None, :])
        grad = (Wa - Na * P).sum(2) - lam[:, None] * th - th.sum(1, keepdims=True) / M
        C = Na * P * (1.0 - P)
        H = -C
        H[:, diag, diag] = C.sum(2)
        H += lam[:, None, None] * eye + J
        step = np.linalg.solve(H, grad[..., None])[..., 0]
        step *= np.minimum(1.0, _MAX_STEP / np.maximum(np.abs(step).max(1), 1e-300))[:, None]
        t = np.ones(idx.size)
        new = th + step
        new_obj = _bt_objective(Wa, new, lam)
        old_obj = obj[idx]
        for _ in range(30):
            bad = new_obj < old_obj - 1e-12 * (1.0 + np.abs(old_obj))
            if not bad.any():
                break
            t[bad] *= 0.5
            new[bad] = th[bad] + t[bad, None] * step[bad]
            new_obj[bad] = _bt_objective(Wa[bad], new[bad], lam[bad])
        theta[idx] = new
        obj[idx] = new_obj
        done = (t[:, None] * np.abs(step)).max(1) < tol
        active[idx[done]] = False
    return theta, ~active


def _strongly_connected(W: NDArray) -> NDArray[np.bool_]:
    """Per resample: is the 'i beat j' digraph strongly connected (Ford 1957: the BT MLE exists)?"""
    M = W.shape[1]
    R = ((W > 0) | np.eye(M, dtype=bool)).astype(float)
    for _ in range(max(1, math.ceil(math.log2(max(M, 2)))) + 1):
        R = (R @ R > 0).astype(float)
    return np.asarray(R.all(axis=(1, 2)))


def _identifiability_reason(W: NDArray, labels: NDArray) -> str:
    wins, losses = (W.sum(1) > 0), (W.sum(0) > 0)
    from scipy import sparse  # imported when used: only this message and the sandwich variance need it
    from scipy.sparse import csgraph

    n_weak, _ = csgraph.connected_components(sparse.csr_matrix(W + W.T > 0), directed=False)
    parts = []
    never_lost = [str(labels[i]) for i in np.flatnonzero(~losses)]
    never_won = [str(labels[i]) for i in np.flatnonzero(~wins)]
    if never_lost:
        parts.append(f"never lost: {', '.join(never_lost)} (strength +infinite)")
    if never_won:
        parts.append(f"never won: {', '.join(never_won)} (strength -infinite)")
    if n_weak > 1:
        parts.append(f"the comparison graph has {n_weak} disconnected groups")
    if not parts:
        parts.append("a group of models never lost to the others")
    return "Bradley–Terry maximum likelihood does not exist: " + "; ".join(parts)


# ---------------------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelRating:
    model: Any
    rating: float | None
    ci95: tuple[float | None, float | None]
    rank: int | None
    rank_ci95: tuple[int | None, int | None]
    wins: int
    losses: int
    ties: int
    n: int
    strength: float | None  # natural-log BT strength θ (mean-centred, or anchor = 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": plain(self.model),
            "rating": finite(self.rating),
            "ci95": [finite(self.ci95[0]), finite(self.ci95[1])],
            "rank": self.rank,
            "rank_ci95": list(self.rank_ci95),
            "wins": self.wins,
            "losses": self.losses,
            "ties": self.ties,
            "n": self.n,
            "strength": finite(self.strength),
        }


@dataclass(frozen=True)
class WinRateMatrix:
    """matrix[i][j] = share of i-vs-j votes won by row model i (ties half); None when never compared."""

    models: tuple[Any, ...]
    matrix: tuple[tuple[float | None, ...], ...]
    counts: tuple[tuple[int, ...], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "models": [plain(m) for m in self.models],
            "matrix": [[finite(x) for x in row] for row in self.matrix],
            "counts": [list(row) for row in self.counts],
        }


@dataclass(frozen=True)
class BradleyTerryResult:
    models: tuple[ModelRating, ...]  # best first
    win_rate: WinRateMatrix
    n_votes: int
    n_prompts: int
    n_dropped: int  # NaN outcome or model_a == model_b
    identifiable: bool
    ridge: float
    anchor: Any
    bootstrap: dict[str, Any] | None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "models": [m.to_dict() for m in self.models],
            "win_rate": self.win_rate.to_dict(),
            "n_votes": self.n_votes,
            "n_prompts": self.n_prompts,
            "n_dropped": self.n_dropped,
            "identifiable": self.identifiable,
            "ridge": float(self.ridge),
            "anchor": plain(self.anchor),
            "bootstrap": self.bootstrap,
            "reason": self.reason,
        }


def _win_matrix(ai: NDArray, bi: NDArray, y: NDArray, M: int) -> NDArray:
    W = np.zeros((M, M))
    np.add.at(W, (ai, bi), y)
    np.add.at(W, (bi, ai), 1.0 - y)
    return W


def _encode(
    model_a: ArrayLike, model_b: ArrayLike, outcome: ArrayLike, scale_k: float | None
) -> tuple[NDArray, NDArray, NDArray, NDArray, NDArray]:
    a, b = np.asarray(model_a), np.asarray(model_b)
    y = _outcomes(outcome, scale_k)
    if not (a.shape == b.shape == y.shape) or a.ndim != 1:
        raise ValueError("model_a, model_b and outcome must be 1-D arrays of equal length")
    keep = ~np.isnan(y) & (a != b)
    labels, codes = np.unique(np.concatenate([a[keep], b[keep]]), return_inverse=True)
    n = int(keep.sum())
    return labels, codes[:n], codes[n:], y[keep], keep


def win_rate_matrix(
    model_a: ArrayLike, model_b: ArrayLike, outcome: ArrayLike, *, scale_k: float | None = None
) -> WinRateMatrix:
    """Win-rate matrix: (wins + ties/2) / comparisons for every ordered model pair, with the counts."""
    labels, ai, bi, y, _ = _encode(model_a, model_b, outcome, scale_k)
    return _make_win_rate(_win_matrix(ai, bi, y, len(labels)), labels, np.arange(len(labels)))


def _make_win_rate(W: NDArray, labels: NDArray, order: NDArray) -> WinRateMatrix:
    N = W + W.T
    with np.errstate(invalid="ignore", divide="ignore"):
        R = np.where(N > 0, W / N, np.nan)
    No, Ro = N[np.ix_(order, order)], R[np.ix_(order, order)]
    return WinRateMatrix(
        models=tuple(plain(labels[i]) for i in order),
        matrix=tuple(tuple(finite(x) for x in row) for row in Ro),
        counts=tuple(tuple(row) for row in np.rint(No).astype(int).tolist()),
    )


def bradley_terry(
    prompt: ArrayLike,
    model_a: ArrayLike,
    model_b: ArrayLike,
    outcome: ArrayLike,
    *,
    scale_k: float | None = None,
    anchor: Any = None,
    ridge: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    scale: float = 400.0,
    base: float = 1000.0,
    level: float = 0.95,
) -> BradleyTerryResult:
    """Bradley–Terry ratings with a prompt-clustered bootstrap (Bradley & Terry 1952).

    Model: P(i beats j) = σ(θi - θj).  A tie adds half a win to each side (the Chatbot Arena
    convention: identical to logistic regression with the tie entered as a half-weight win each way).
    Fitted by Newton–Raphson on the log-likelihood (concave; Hunter 2004 gives the MM alternative);
    the MLE exists iff the "beat" digraph is strongly connected (Zermelo 1929, Ford 1957).

    Rating scale: ``base + scale·log10(e)·θ`` (Elo-like: a ``scale``-point gap = 10:1 odds).  θ is
    centred so the mean rating is ``base``; with ``anchor`` = a model label, that model is ``base``
    instead (its own interval is then the point).

    ``ridge``: None = 0 when the MLE exists, else :data:`AUTO_RIDGE` (flagged ``identifiable=False``
    with a ``reason``); 0.0 = strict (ratings None when the MLE does not exist); > 0 = always MAP with
    a N(0, 1/ridge) prior on θ.

    Bootstrap: prompts are resampled with replacement (cluster bootstrap, ``n_boot`` resamples, seeded).
    A resample is a weighted sum of per-prompt win counts, fitted by Newton from the full-data θ.
    Resamples in which the MLE does not exist are fitted with the ridge above (or AUTO_RIDGE) and
    counted in ``bootstrap["n_regularized"]``; percentile intervals.  ``rank_ci95`` comes from the
    ranks in each resample (rank 1 = best; rank = 1 + number of models rated strictly higher).
    """
    p = np.asarray(prompt)
    labels, ai, bi, y, keep = _encode(model_a, model_b, outcome, scale_k)
    if p.shape != keep.shape:
        raise ValueError("prompt must have one entry per vote")
    M, n_votes, n_dropped = len(labels), len(y), int((~keep).sum())
    _, pi = np.unique(p[keep], return_inverse=True)
    n_prompts = int(pi.max()) + 1 if n_votes else 0
    W = _win_matrix(ai, bi, y, M)

    wins = np.bincount(np.concatenate([ai[y == 1], bi[y == 0]]), minlength=M)
    losses = np.bincount(np.concatenate([ai[y == 0], bi[y == 1]]), minlength=M)
    ties = np.bincount(np.concatenate([ai[y == 0.5], bi[y == 0.5]]), minlength=M)
    if anchor is not None and anchor not in set(labels.tolist()):
        raise ValueError(f"anchor model {anchor!r} has no votes")

    def empty(reason: str, ridge_used: float = 0.0, identifiable: bool = False) -> BradleyTerryResult:
        rows = tuple(
            ModelRating(plain(labels[i]), None, (None, None), None, (None, None), int(wins[i]),
                        int(losses[i]), int(ties[i]), int(wins[i] + losses[i] + ties[i]), None)
            for i in range(M)
        )
        return BradleyTerryResult(rows, _make_win_rate(W, labels, np.arange(M)), n_votes, n_prompts,
                                  n_dropped, identifiable, ridge_used, anchor, None, reason)

    if M < 2:
        return empty("need votes between at least two different models")
    identifiable = bool(_strongly_connected(W[None])[0])
    reason = None if identifiable else _identifiability_reason(W, labels)
    if ridge is None:
        ridge_used = 0.0 if identifiable else AUTO_RIDGE
    else:
        ridge_used = float(ridge)
    if not identifiable and ridge_used <= 0:
        return empty(f"{reason}; pass ridge > 0 (or ridge=None) for regularised ratings")
    if not identifiable:
        reason = f"{reason}; ratings are ridge-regularised (ridge={ridge_used:g}), not maximum likelihood"
    theta, conv = _bt_newton(W[None], np.zeros(M), np.array([ridge_used]))
    theta = theta[0]
    if not conv[0]:
        return empty("Bradley–Terry fit did not converge", ridge_used, identifiable)

    k = list(labels.tolist()).index(anchor) if anchor is not None else None
    to_rating = scale * _LOG10_E

    def rate(th: NDArray) -> NDArray:
        ref = th[..., [k]] if k is not None else th.mean(-1, keepdims=True)
        return base + to_rating * (th - ref)

    ratings = rate(theta)
    order = np.argsort(-ratings, kind="stable")
    rank = 1 + (ratings[None, :] > ratings[:, None]).sum(1)

    ci = np.full((M, 2), np.nan)
    rank_ci = np.full((M, 2), -1)
    boot: dict[str, Any] | None = None
    if n_boot > 0:
        boot_ratings, n_reg, n_fail = _bootstrap(pi, ai, bi, y, M, n_prompts, theta, ridge_used, n_boot, seed)
        good = boot_ratings[~np.isnan(boot_ratings).any(1)]
        if len(good) >= 2 and not too_many_undefined(len(boot_ratings) - len(good), len(boot_ratings)):
            br = rate(good)
            ci = percentile_bounds(br, tails(level), axis=0).T
            branks = 1 + (br[:, None, :] > br[:, :, None]).sum(2)
            rank_ci = percentile_bounds(branks, tails(level), axis=0, method="inverted_cdf").T.astype(int)
        boot = {"n_resamples": int(n_boot), "seed": seed, "level": level, "cluster": "prompt",
                "method": "percentile", "n_regularized": n_reg, "n_failed": n_fail}

    rows = tuple(
        ModelRating(
            model=plain(labels[i]),
            rating=float(ratings[i]),
            ci95=(finite(ci[i, 0]), finite(ci[i, 1])),
            rank=int(rank[i]),
            rank_ci95=(int(rank_ci[i, 0]), int(rank_ci[i, 1])) if rank_ci[i, 0] > 0 else (None, None),
            wins=int(wins[i]),
            losses=int(losses[i]),
            ties=int(ties[i]),
            n=int(wins[i] + losses[i] + ties[i]),
            strength=float(theta[i] - (theta[k] if k is not None else theta.mean())),
        )
        for i in order
    )
    return BradleyTerryResult(rows, _make_win_rate(W, labels, order), n_votes, n_prompts, n_dropped,
                              identifiable, ridge_used, anchor, boot, reason)


def _bootstrap(
    pi: NDArray, ai: NDArray, bi: NDArray, y: NDArray, M: int, n_prompts: int,
    theta_hat: NDArray, ridge: float, n_boot: int, seed: int, chunk: int = 250,
) -> tuple[NDArray, int, int]:
    """Cluster (prompt) bootstrap of θ; returns θ per resample (NaN rows = not converged)."""
    # per-prompt sufficient statistics: P[prompt, i*M + j] = wins of i over j in that prompt
    rows = np.concatenate([pi, pi])
    cols = np.concatenate([ai * M + bi, bi * M + ai])
    vals = np.concatenate([y, 1.0 - y])
    from scipy import sparse

    PT = sparse.csr_matrix((vals, (cols, rows)), shape=(M * M, n_prompts))
    rng = np.random.default_rng(seed)
    out = np.empty((n_boot, M))
    n_reg = n_fail = 0
    fallback = ridge if ridge > 0 else AUTO_RIDGE
    with one_blas_thread():  # thousands of M x M solves: OpenBLAS threads only slow them down
        for start in range(0, n_boot, chunk):
            b = min(chunk, n_boot - start)
            draws = rng.integers(0, n_prompts, size=(b, n_prompts))
            counts = np.bincount((draws + (np.arange(b) * n_prompts)[:, None]).ravel(), minlength=b * n_prompts)
            Wb = np.asarray(PT @ counts.reshape(b, n_prompts).T.astype(float)).T.reshape(b, M, M)
            ident = _strongly_connected(Wb)
            lam = np.where(ident, ridge, fallback)
            th, conv = _bt_newton(Wb, theta_hat, lam)
            th[~conv] = np.nan
            out[start : start + b] = th
            n_reg += int((~ident).sum()) if ridge == 0 else 0
            n_fail += int((~conv).sum())
    return out, n_reg, n_fail


# ---------------------------------------------------------------------------------------------------------
# Position bias
# ---------------------------------------------------------------------------------------------------------


def wilson_interval(k: int, n: int, level: float = 0.95) -> tuple[float | None, float | None]:
    """Wilson score interval for a binomial proportion (Wilson 1927)."""
    if n <= 0:
        return (None, None)
    from scipy import stats  # imported when used: scipy.stats takes ~0.3 s to load
    z = float(stats.norm.ppf((1 + level) / 2))
    ph = k / n
    denom = 1 + z * z / n
    centre = (ph + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(ph * (1 - ph) / n + z * z / (4 * n * n))
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class PositionBiasStats:
    rater: Any
    n_votes: int
    n_ties: int
    tie_share: float | None
    n_decided: int
    left_wins: int
    left_win_rate: float | None  # among decided (non-tie) votes
    ci95: tuple[float | None, float | None]  # Wilson score
    p_value: float | None  # exact two-sided binomial test against 0.5
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rater": plain(self.rater),
            "n_votes": self.n_votes,
            "n_ties": self.n_ties,
            "tie_share": finite(self.tie_share),
            "n_decided": self.n_decided,
            "left_wins": self.left_wins,
            "left_win_rate": finite(self.left_win_rate),
            "ci95": [finite(self.ci95[0]), finite(self.ci95[1])],
            "p_value": finite(self.p_value),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class PositionBiasResult:
    overall: PositionBiasStats
    per_rater: tuple[PositionBiasStats, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"overall": self.overall.to_dict(), "per_rater": [r.to_dict() for r in self.per_rater]}


def _position_stats(y: NDArray, left_is_a: NDArray, rater: Any, level: float) -> PositionBiasStats:
    n = len(y)
    tie = y == 0.5
    decided = ~tie
    left_won = np.where(left_is_a, y == 1, y == 0) & decided
    nd, k = int(decided.sum()), int(left_won.sum())
    if n == 0:
        return PositionBiasStats(rater, 0, 0, None, 0, 0, None, (None, None), None, "no votes")
    if nd == 0:
        return PositionBiasStats(rater, n, int(tie.sum()), float(tie.mean()), 0, 0, None, (None, None), None,
                                 "all votes are ties")
    from scipy import stats  # imported when used: scipy.stats takes ~0.3 s to load
    p = float(stats.binomtest(k, nd, 0.5).pvalue)
    return PositionBiasStats(rater, n, int(tie.sum()), float(tie.mean()), nd, k, k / nd,
                             wilson_interval(k, nd, level), p)


def position_bias(
    outcome: ArrayLike,
    left_is_a: ArrayLike,
    *,
    rater: ArrayLike | None = None,
    scale_k: float | None = None,
    level: float = 0.95,
) -> PositionBiasResult:
    """How often the response shown on the left wins (ties excluded; their share reported).

    Wilson score interval (Wilson 1927) and exact two-sided binomial test against 0.5, overall and per
    rater.  Votes with a NaN outcome are ignored.
    """
    y = _outcomes(outcome, scale_k)
    left = np.asarray(left_is_a).astype(bool)
    if left.shape != y.shape:
        raise ValueError("left_is_a must have one entry per vote")
    keep = ~np.isnan(y)
    overall = _position_stats(y[keep], left[keep], None, level)
    per: list[PositionBiasStats] = []
    if rater is not None:
        r = np.asarray(rater)
        if r.shape != y.shape:
            raise ValueError("rater must have one entry per vote")
        for lab in np.unique(r[keep]):
            m = keep & (r == lab)
            per.append(_position_stats(y[m], left[m], plain(lab), level))
    return PositionBiasResult(overall, tuple(per))
