"""Latent-class consensus models: Dawid–Skene and MACE, fitted by EM, with per-rater competence.

Input as in ``consensus.py`` (a ``(raters x units)`` matrix, NaN = missing, values treated as nominal
classes), prepared by its ``prepare_ratings``; the results follow its conventions (labels, ties,
``to_dict()``).  The models are their own idea, a true class per unit and a model of each rater,
estimated together, so they live here rather than beside the vote-counting rules.

Internally the ratings are a one-hot matrix ``M`` (rated units x (rater, label) pairs), so an E-step
is ``M @ log_table`` and the M-step counts are ``M.T @ posterior``.  Units with the same row of ``M``
(the same raters giving the same labels) have the same posterior, so EM works on the distinct rows
(``_Patterns``), weighted by how many units share each: each EM iteration is O(number of patterns ·
ratings per unit · classes), whatever the number of units.

Besides ``consensus.py``'s conventions: per-rater ``competence`` is a tuple of ``float | None``; None
comes with a reason in ``competence_reasons`` (rater with no ratings, a single rater, a single
category used).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import digamma

from evalplatform.stats.consensus import ClassRatings, ToDict, prepare_ratings

__all__ = [
    "DawidSkeneResult",
    "MACEResult",
    "dawid_skene",
    "mace",
]

_EPS = 1e-10  # probability floor inside EM (crowd-kit's DawidSkene uses the same)


@dataclass(frozen=True)
class _LatentCommon(ToDict):
    """Fields shared by the latent-class model results (see the module docstrings)."""

    classes: np.ndarray
    labels: np.ndarray  # (n_units,)
    confidence: np.ndarray | None  # (n_units,) posterior of the chosen label
    posterior: np.ndarray | None  # (n_units, K)
    n_ratings: np.ndarray
    unrated_units: tuple[int, ...]
    competence: tuple[float | None, ...]
    competence_reasons: tuple[str | None, ...]
    converged: bool
    n_iter: int
    log_likelihood: float | None
    tol: float
    max_iter: int
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if out["posterior"] is not None:
            for i in self.unrated_units:  # no evidence at all: the whole row is None
                out["posterior"][i] = None
        return out


@dataclass(frozen=True)
class DawidSkeneResult(_LatentCommon):
    """Dawid–Skene fit.  ``confusion[r, t, a]`` = P(rater r says a | true class t) (rows sum to 1);
    ``competence[r]`` = Σ_t prior_t · confusion[r, t, t] (the rater's expected accuracy)."""

    class_prior: np.ndarray | None = None
    confusion: np.ndarray | None = None
    method: str = "dawid_skene"


@dataclass(frozen=True)
class MACEResult(_LatentCommon):
    """MACE fit.  ``competence[r]`` = P(rater r is not spamming) (θ_r); ``strategy[r, a]`` = ξ_r(a),
    the distribution of r's answers when spamming; ``accuracy[r]`` = P(r's answer is right).

    θ is not an accuracy: on a skewed yes/no question a "spammer" answering yes is mostly right, so
    with MACE's uniform class prior the model explains the skew as spam and θ reads low for every
    rater, good ones included (and the labels suffer).  ``class_prior="learned"`` estimates the
    prevalence instead; the quality run uses it, and shows ``accuracy`` beside Dawid–Skene's."""

    strategy: np.ndarray | None = None
    #: the class prior used: uniform (Hovy et al.), or the estimated prevalence of each class
    class_prior: np.ndarray | None = None
    #: expected accuracy θ_r + (1 - θ_r) Σ_t π_t ξ_r(t): comparable with Dawid–Skene's ``competence``
    accuracy: tuple[float | None, ...] = field(default=())
    variant: str = "vb"
    seed: int = 0
    n_restarts: int = 1
    best_restart: int = 0
    restart_log_likelihoods: tuple[float, ...] = field(default=())
    method: str = "mace"


def _degenerate(d: ClassRatings, tol: float, max_iter: int) -> dict[str, Any] | None:
    """Explicit answers for inputs where a latent-class model is not identifiable."""
    raters_used = np.unique(d.rater)
    empty = len(d.unit) == 0
    one_cat = len(np.unique(d.label)) == 1
    if not (empty or one_cat or len(raters_used) == 1):
        return None
    notes = d.base_notes()
    if empty:
        reason = "no ratings"
        post = None
        labels = np.full(d.n_units, np.nan)
    elif one_cat:
        c = int(d.label[0])
        reason = f"only one category used ({d.classes[c]:g}): competence is not identifiable"
        notes.append(f"every rating is {d.classes[c]:g}: every rated unit gets it with posterior 1.0")
        post = np.zeros((len(d.rated_units), d.k))
        post[:, c] = 1.0
        labels = d.expand(np.full(len(d.rated_units), d.classes[c]))
    else:
        reason = "only one rater has ratings: competence is not identifiable"
        notes.append("single rater: the consensus is that rater's labels; no posterior is estimated")
        post = None
        labels = d.expand(d.classes[d.label[np.argsort(d.unit)]])
    return {
        "classes": d.classes,
        "labels": labels,
        "confidence": d.expand(post.max(axis=1)) if post is not None else None,
        "posterior": d.expand(post) if post is not None else None,
        "n_ratings": d.n_ratings,
        "unrated_units": d.unrated(),
        "competence": (None,) * d.n_raters,
        "competence_reasons": (reason,) * d.n_raters,
        "converged": True,
        "n_iter": 0,
        "log_likelihood": None,
        "tol": tol,
        "max_iter": max_iter,
        "notes": (*notes, reason),
    }


def _common(
    d: ClassRatings,
    post: np.ndarray,
    competence: np.ndarray,
    converged: bool,
    n_iter: int,
    ll: float,
    tol: float,
    max_iter: int,
) -> dict[str, Any]:
    active = np.bincount(d.rater, minlength=d.n_raters) > 0
    notes = d.base_notes()
    if not converged:
        notes.append(f"did not converge within {max_iter} iterations (tol {tol:g})")
    return {
        "classes": d.classes,
        "labels": d.expand(d.classes[np.argmax(post, axis=1)]),
        "confidence": d.expand(post.max(axis=1)),
        "posterior": d.expand(post),
        "n_ratings": d.n_ratings,
        "unrated_units": d.unrated(),
        "competence": tuple(float(c) if a else None for c, a in zip(competence, active, strict=True)),
        "competence_reasons": tuple(None if a else "rater has no ratings" for a in active),
        "converged": converged,
        "n_iter": n_iter,
        "log_likelihood": float(ll),
        "tol": tol,
        "max_iter": max_iter,
        "notes": tuple(notes),
    }


def _check_iter(tol: float, max_iter: int) -> None:
    if max_iter < 1 or not tol >= 0:
        raise ValueError("max_iter must be >= 1 and tol >= 0")


class _Patterns:
    """The rated units grouped by rating pattern (the same (rater, label) pairs).  A unit's E-step row
    depends only on its pattern, and every sum over units an EM step takes (the M-step's counts, the
    class prior, the log-likelihood) is a sum over patterns weighted by how many units share each: so
    EM runs on the patterns alone (a team's project has tens of thousands of units and a thousand or
    so patterns) and the posterior is spread to the units once, at the end.  The sums come out in
    another order than unit by unit: the same figures up to the last bits.
    """

    def __init__(self, d: ClassRatings) -> None:
        n_u, k, width = len(d.rated_units), d.k, d.n_raters * d.k
        per_unit = np.bincount(d.unit, minlength=n_u)
        slots = int(per_unit.max()) if per_unit.size else 0
        start = np.cumsum(per_unit) - per_unit
        cols = np.full((n_u, slots), width, dtype=np.int64)  # padding: a row of zeros after the table
        cols[d.unit, np.arange(len(d.unit)) - start[d.unit]] = d.pair  # ratings sorted by unit, then rater
        if slots and (width + 1.0) ** slots < 2.0**62:
            # each row as one number in base width + 1: the rows' lexicographic order, and a 1-D
            # unique is many times faster than np.unique(axis=0)
            key = cols[:, 0].copy()
            for j in range(1, slots):
                key *= width + 1
                key += cols[:, j]
            _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
            self.cols = cols[first]
        else:
            self.cols, inverse = np.unique(cols, axis=0, return_inverse=True)
        self.inverse = inverse.reshape(-1)
        self.n_patterns = self.cols.shape[0]
        self.n_units = n_u
        self.count = np.bincount(self.inverse, minlength=self.n_patterns).astype(float)
        # the ratings of one unit of each pattern: (rater, label) column, pattern, label
        self.pattern, slot = np.nonzero(self.cols < width)
        self.col = self.cols[self.pattern, slot]
        self.label = self.col % k if k else self.col
        self._k = k
        self._width = width
        self._pair_index = (self.col * k + np.arange(k)[:, None]).ravel()  # [(rater, label), t] per (t, rating)
        self._own = self.label * self.n_patterns + self.pattern  # P(z = the rating's label) in a K x patterns array
        self._count_of = self.count[self.pattern]
        # Everything runs on (K x ...) arrays, class first: numpy reductions over a short trailing
        # axis are ~20x slower than over the leading one, and no transposed copy is made per step.
        # The E-step's table: [t, (rater, label)] then a column of zeros that the padding points at.
        self._ext = np.zeros((k, width + 1))
        self.log_table = self._ext[:, :width].reshape(k, d.n_raters, k)  # a view: [t, rater, label]
        self._slots = np.ascontiguousarray(self.cols.T)  # (slots x patterns)

    def e_steps(self, table: np.ndarray, log_prior: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``e_step`` for several fits at once (MACE's restarts): ``table`` [fit, t, rater, label] of
        probabilities (their logs are taken here) and ``log_prior`` [fit, t] -> the (fits x K x
        patterns) posteriors and each fit's log-likelihood.  Each fit's figures are the same to the bit as its own ``e_step``: the same
        sums in the same order (only the log-likelihood's dot product is taken fit by fit)."""
        n_fits, k = log_prior.shape
        ext = np.zeros((n_fits, k, self._width + 1))
        np.log(table, out=ext[:, :, : self._width].reshape(table.shape))
        st = ext.take(self._slots, axis=2).sum(axis=2)
        st += log_prior[:, :, None]
        mx = st.max(axis=1)
        st -= mx[:, None, :]
        np.exp(st, out=st)
        z = st.sum(axis=1)
        st /= z[:, None, :]
        per_pattern = np.log(z) + mx
        return st, np.array([self.count @ row for row in per_pattern])

    def own_sums_of(self, st: np.ndarray) -> np.ndarray:
        """For each of several (K x patterns) posteriors ``st`` (fits x K x patterns): [fit, (rater,
        label)] = Σ of P(z_u = label) over the units the rater gave that label."""
        n_fits, width = st.shape[0], self._width
        weighted = st.reshape(n_fits, -1).take(self._own, axis=1) * self._count_of
        index = self.col + width * np.arange(n_fits)[:, None]  # bins fit by fit, in the same order
        return np.bincount(index.ravel(), weights=weighted.ravel(), minlength=n_fits * width).reshape(n_fits, width)

    def e_step(self, log_prior: np.ndarray) -> tuple[np.ndarray, float]:
        """The posterior of each pattern from ``log_table`` (filled in by the caller) and the class
        prior's logs: (K x patterns), and the log-likelihood Σ over units of log Σ_t prior_t Π_r P(a_ru | t).

        A unit's log score of class t is ``log_prior[t] + Σ`` of its ratings' ``log_table[t, r, a]``
        (``M @ table``), in its ratings' (rater) order; the posterior its row-wise softmax."""
        st = self._ext.take(self._slots, axis=1).sum(axis=1)
        st += log_prior[:, None]
        mx = st.max(axis=0)
        st -= mx
        np.exp(st, out=st)
        z = st.sum(axis=0)
        st /= z
        return st, float(self.count @ (np.log(z) + mx))

    def votes(self) -> np.ndarray:
        """(K x patterns): the share of a pattern's ratings giving each label (soft majority vote)."""
        k, n_p = self._k, self.n_patterns
        st = np.bincount(self.label * n_p + self.pattern, minlength=k * n_p).reshape(k, n_p).astype(float)
        st /= st.sum(axis=0)
        return st

    def total(self, st: np.ndarray) -> np.ndarray:
        """Σ over units of the (K x patterns) posterior ``st``: (K,)."""
        return st @ self.count

    def pair_sums(self, st: np.ndarray) -> np.ndarray:
        """``M.T @ posterior``: [(rater, label), t] = Σ of P(z_u = t) over the units the rater gave
        that label, (raters·K x K)."""
        k, width = self._k, self._width
        weighted = st.take(self.pattern, axis=1) * self._count_of  # (K x ratings of one unit per pattern)
        return np.bincount(self._pair_index, weights=weighted.ravel(), minlength=width * k).reshape(width, k)

    def units(self, st: np.ndarray) -> np.ndarray:
        """The (units x K) posterior, the transpose of a contiguous K x units array."""
        return np.take(st, self.inverse, axis=1).T


def dawid_skene(
    ratings: Any, classes: Any = None, *, tol: float = 1e-7, max_iter: int = 200, smoothing: float = 0.0
) -> DawidSkeneResult:
    """Dawid–Skene (1979) latent-class model: per-rater confusion matrices fitted by EM.

    Model: true class ``z_u ~ Categorical(π)``; rater r labels u with ``a ~ Categorical(CM_r[z_u, :])``,
    ratings independent given ``z_u``.  EM:

    - init: ``T[u, t]`` = share of u's ratings equal to t (soft majority vote);
    - M-step: ``π_t = mean_u T[u, t]``; ``CM_r[t, a] ∝ Σ_{u rated a by r} T[u, t] + smoothing``
      (floored at 1e-10, rows normalised);
    - E-step: ``T[u, t] ∝ π_t Π_{r rated u} CM_r[t, a_ru]``, in logs;
    - log-likelihood ``LL = Σ_u log Σ_t π_t Π_r CM_r[t, a_ru]``.  Converged when the change in
      ``LL / number of ratings`` between iterations is below ``tol``; at most ``max_iter`` iterations.

    Returns the most likely label per unit (ties → smallest category value), its posterior, the full
    posterior, class prior, confusion matrices and per-rater competence
    ``Σ_t π_t CM_r[t, t]`` (estimated accuracy).  ``smoothing=0`` matches ``crowdkit``'s DawidSkene.
    Reference: Dawid, A. P. & Skene, A. M. (1979). Maximum likelihood estimation of observer
    error-rates using the EM algorithm. JRSS C 28(1), 20–28.
    """
    _check_iter(tol, max_iter)
    d = prepare_ratings(ratings, classes)
    deg = _degenerate(d, tol, max_iter)
    if deg is not None:
        return DawidSkeneResult(**deg)
    k, n_r = d.k, d.n_raters
    patterns = _Patterns(d)
    st = patterns.votes()  # the posterior per pattern, K x patterns
    ll_old, ll, converged, it = -np.inf, -np.inf, False, 0
    prior = conf = np.empty(0)
    for it in range(1, max_iter + 1):  # noqa: B007 - it is reported
        prior = np.maximum(patterns.total(st) / patterns.n_units, _EPS)
        counts = patterns.pair_sums(st).reshape(n_r, k, k).transpose(0, 2, 1)  # [r, t, a]
        conf = np.maximum(counts + smoothing, _EPS)
        conf /= conf.sum(axis=2, keepdims=True)
        np.log(conf.transpose(1, 0, 2), out=patterns.log_table)  # [t, r, a]
        st, ll = patterns.e_step(np.log(prior))
        if abs(ll - ll_old) / len(d.unit) < tol:
            converged = True
            break
        ll_old = ll
    post = patterns.units(st)
    competence = np.einsum("t,rtt->r", prior, conf)
    return DawidSkeneResult(
        **_common(d, post, competence, converged, it, ll, tol, max_iter),
        class_prior=prior / prior.sum(),
        confusion=conf,
    )


def mace(
    ratings: Any,
    classes: Any = None,
    *,
    variant: str = "vb",
    n_restarts: int = 10,
    max_iter: int = 200,
    tol: float = 1e-7,
    seed: int = 0,
    competence_prior: tuple[float, float] = (0.5, 0.5),
    strategy_prior: float = 10.0,
    smoothing: float | None = None,
    class_prior: str = "uniform",
) -> MACEResult:
    """MACE, Multi-Annotator Competence Estimation (Hovy et al. 2013), fitted by EM or variational EM.

    Model: ``z_u ~ Uniform(K)``; for each rating, rater r spams with probability ``1 - θ_r``
    (``S ~ Bernoulli(1 - θ_r)``); if not spamming the answer is ``z_u``, if spamming it is drawn from the
    rater's strategy ``ξ_r``.  So ``P(a | t) = (1 - θ_r) ξ_r(a) + θ_r 1[a = t]``.

    - E-step: ``T[u, t] ∝ Π_r P(a_ru | t)``; expected "knowing" count of a rating with answer a is
      ``T[u, a] θ_r / ((1 - θ_r) ξ_r(a) + θ_r)``, the rest is a spamming count for answer a.
    - ``variant="em"``: M-step normalises counts plus ``smoothing`` (default 0.01 / K, MACE's default).
    - ``variant="vb"`` (default; the paper's and crowd-kit's default): variational Bayes with
      ``θ_r ~ Beta(competence_prior)`` = (pseudo-count knowing, pseudo-count spamming) = (0.5, 0.5)
      and ``ξ_r ~ Dirichlet(strategy_prior = 10)``; the E-step uses the weights
      ``exp(ψ(count + prior) - ψ(total + prior sum))``.  Reported ``competence`` / ``strategy`` are
      posterior means.
    - ``n_restarts`` random initialisations (θ, ξ drawn from ``np.random.default_rng(seed)``: ``U(1, 2.5)``
      then normalised, as crowd-kit does); each runs until the change in log-likelihood per
      rating (``Σ_u log Σ_t K⁻¹ Π_r P(a_ru | t)`` with the E-step weights) is below ``tol`` or
      ``max_iter`` iterations; the restart with the highest log-likelihood is kept.  Same seed →
      identical output.  ``converged`` / ``n_iter`` refer to the kept restart.

    - ``class_prior="uniform"`` (default): z_u ~ Uniform(K) as in the paper and crowd-kit;
      ``"learned"``: P(z_u = t) = π_t re-estimated each iteration from the posteriors (Dawid–Skene's
      class prior), which skewed questions need (see ``MACEResult``).

    Returns labels (ties → smallest category value), posterior confidence, full posterior,
    competence θ_r per rater, strategies ξ_r and each rater's expected accuracy.
    Reference: Hovy, D., Berg-Kirkpatrick, T., Vaswani, A. & Hovy, E. (2013). Learning whom to trust
    with MACE. Proc. NAACL-HLT 2013, 1120–1130.
    """
    if variant not in ("vb", "em"):
        raise ValueError("variant must be 'vb' or 'em'")
    if class_prior not in ("uniform", "learned"):
        raise ValueError("class_prior must be 'uniform' or 'learned'")
    if n_restarts < 1:
        raise ValueError("n_restarts must be >= 1")
    _check_iter(tol, max_iter)
    d = prepare_ratings(ratings, classes)
    deg = _degenerate(d, tol, max_iter)
    if deg is not None:
        return MACEResult(**deg, variant=variant, seed=seed, n_restarts=n_restarts)
    k, n_r, n = d.k, d.n_raters, len(d.unit)
    s = 0.01 / k if smoothing is None else smoothing
    a_know, a_spam = competence_prior
    patterns = _Patterns(d)
    n_pair = np.bincount(d.pair, minlength=n_r * k).reshape(n_r, k)
    eye = np.eye(k, dtype=bool)
    rng = np.random.default_rng(seed)

    def e_step(
        know: np.ndarray, spam: np.ndarray, xi: np.ndarray, log_prior: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every fit's (posterior per pattern, K x patterns; log-likelihood; expected knowing counts)."""
        p = spam[:, None, :, None] * xi[:, None] + know[:, None, :, None] * eye[:, None, :]  # [fit, t, r, a]
        st, ll = patterns.e_steps(p, log_prior)
        # knowing weight of a rating (r, a): θ / (spam ξ(a) + θ), times P(z = a)
        w = know[..., None] / (spam[..., None] * xi + know[..., None])
        return st, ll, w * patterns.own_sums_of(st).reshape(-1, n_r, k)

    def m_step(know_counts: np.ndarray, means: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(knowing weight, spamming weight, ξ) for the next E-step, of one fit's or of every fit's
        counts; ``means``: posterior means."""
        strat = n_pair - know_counts
        kc, sc = know_counts.sum(axis=-1), strat.sum(axis=-1)
        if variant == "em" or means:
            p_know, p_spam, p_xi = (s, s, s) if variant == "em" else (a_know, a_spam, strategy_prior)
            theta = (kc + p_know) / (kc + sc + p_know + p_spam)
            return theta, 1.0 - theta, (strat + p_xi) / (sc[..., None] + k * p_xi)
        tot = digamma(kc + sc + a_know + a_spam)
        xi = np.exp(digamma(strat + strategy_prior) - digamma(sc + k * strategy_prior)[..., None])
        return np.exp(digamma(kc + a_know) - tot), np.exp(digamma(sc + a_spam) - tot), xi

    def log_prior_of(st: np.ndarray) -> np.ndarray:
        """The learned class prior's logs, from the (K x patterns) posterior."""
        return np.log((patterns.total(st) + s) / (patterns.n_units + k * s))

    # The restarts run side by side, as one batch of arrays with the restart first (numpy's cost
    # per call, not the arithmetic, is most of an iteration on a few thousand patterns); a restart
    # that converges leaves the batch with its state.  Each restart's figures are those it would
    # have alone, to the bit.
    init = rng.uniform(1.0, 2.5, size=(n_restarts, n_r, 2 + k))  # the draws of one restart after another
    know = init[:, :, 0] / init[:, :, :2].sum(axis=2)
    spam, xi = 1.0 - know, init[:, :, 2:] / init[:, :, 2:].sum(axis=2, keepdims=True)
    log_prior = np.full((n_restarts, k), -np.log(k))
    post, ll, know_counts = e_step(know, spam, xi, log_prior)
    running = np.arange(n_restarts)
    fits: list[Any] = [None] * n_restarts  # (ll, post, know_counts, converged, n_iter) per restart
    for it in range(1, max_iter + 1):
        ll_old = ll
        know, spam, xi = m_step(know_counts)
        if class_prior == "learned":  # the classes' prevalence, instead of MACE's uniform prior
            log_prior = np.stack([log_prior_of(one) for one in post])
        post, ll, know_counts = e_step(know, spam, xi, log_prior)
        converged = np.abs(ll - ll_old) / n < tol
        done = converged | (it == max_iter)
        if done.any():
            for j in np.flatnonzero(done).tolist():
                fits[running[j]] = (float(ll[j]), post[j], know_counts[j], bool(converged[j]), it)
            keep = ~done
            running, post, ll, know_counts, log_prior = (
                running[keep], post[keep], ll[keep], know_counts[keep], log_prior[keep])
            if not running.size:
                break
    lls = [fit[0] for fit in fits]
    restart = 0
    for r in range(1, n_restarts):  # the first of the best
        if lls[r] > lls[restart]:
            restart = r
    ll, post, know_counts, converged, it = fits[restart]
    prior = np.exp(log_prior_of(post)) if class_prior == "learned" else np.full(k, 1.0 / k)
    post = patterns.units(post)
    theta, _, xi = m_step(know_counts, means=True)
    common = _common(d, post, theta, converged, it, ll, tol, max_iter)
    expected = theta + (1 - theta) * (xi @ prior)
    accuracy = tuple(None if c is None else float(a) for c, a in zip(common["competence"], expected, strict=True))
    return MACEResult(
        **common,
        strategy=xi,
        class_prior=prior,
        accuracy=accuracy,
        variant=variant,
        seed=seed,
        n_restarts=n_restarts,
        best_restart=restart,
        restart_log_likelihoods=tuple(float(v) for v in lls),
    )
