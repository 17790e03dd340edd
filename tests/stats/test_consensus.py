"""Consensus labels: majority vote, Dawid–Skene and MACE, checked against crowd-kit on synthetic raters."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalplatform.stats.consensus import long_to_wide, majority_vote, numeric_consensus, wide_to_long
from evalplatform.stats.latent_class import dawid_skene, mace

pd = pytest.importorskip("pandas")
crowdkit = pytest.importorskip("crowdkit.aggregation")

# the reference libraries use pandas APIs that pandas 3 deprecates
pytestmark = pytest.mark.filterwarnings("ignore:The (inplace|copy) keyword")

nan = np.nan


def synthetic(seed: int, n_items: int = 3000, k: int = 5, careful: tuple[float, ...] = (0.95, 0.85, 0.75, 0.65),
              n_spam: int = 3, n_adv: int = 1, per_item: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """(raters x items) ratings, true labels, true accuracy per rater.

    Careful raters are right with their accuracy, else uniformly wrong; spammers answer uniformly at
    random; adversarial raters always answer (truth + 1) mod k.  Each item gets ``per_item`` raters.
    """
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n_items)
    n_r = len(careful) + n_spam + n_adv
    answers = np.empty((n_r, n_items))
    for r, acc in enumerate(careful):
        wrong = (truth + rng.integers(1, k, n_items)) % k
        answers[r] = np.where(rng.random(n_items) < acc, truth, wrong)
    answers[len(careful) : len(careful) + n_spam] = rng.integers(0, k, (n_spam, n_items))
    answers[len(careful) + n_spam :] = (truth + 1) % k
    chosen = np.argsort(rng.random((n_r, n_items)), axis=0) < per_item
    x = np.where(chosen, answers + 1.0, nan)  # category values 1..k
    true_acc = np.array([*careful, *([1.0 / k] * n_spam), *([0.0] * n_adv)])
    return x, truth + 1.0, true_acc


def crowdkit_frame(x: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """Long DataFrame for crowd-kit, with workers and labels recoded so that their order of first
    appearance equals their sorted order.

    crowd-kit 1.4.2's MACE indexes its per-worker strategy matrix by ``pd.factorize`` codes (order
    of appearance) but fills it from a ``groupby`` (sorted order); when the two orders differ it mixes
    up workers' parameters.  Recoding avoids that (DawidSkene is unaffected).  Returns the frame and
    the label values by code.
    """
    u, r, v = wide_to_long(x)
    worker_codes, _ = pd.factorize(r)
    label_codes, label_values = pd.factorize(v)
    frame = pd.DataFrame({"task": u, "worker": worker_codes, "label": label_codes})
    return frame, np.asarray(label_values, dtype=float)


def crowdkit_labels(model: object, x: np.ndarray) -> np.ndarray:
    frame, values = crowdkit_frame(x)
    labels = model.fit_predict(frame)  # type: ignore[attr-defined]
    out = np.full(x.shape[1], nan)
    out[labels.index.to_numpy(dtype=int)] = values[labels.to_numpy(dtype=int)]
    return out


def pairs_ordered(estimated: tuple[float | None, ...], truth: np.ndarray, margin: float) -> None:
    """Every pair of raters whose true values differ by >= margin is ranked the same way."""
    est = np.array([np.nan if e is None else e for e in estimated])
    for i in range(len(truth)):
        for j in range(len(truth)):
            if truth[i] - truth[j] >= margin:
                assert est[i] > est[j], (i, j, est.round(3).tolist(), truth.tolist())


def as_json(result: object) -> dict:
    d = result.to_dict()  # type: ignore[attr-defined]
    return json.loads(json.dumps(d, allow_nan=False))


# ----------------------------------------------------------------------------- crowd-kit comparison
@pytest.mark.parametrize(("seed", "k"), [(0, 5), (1, 5), (2, 2), (3, 3)])
def test_dawid_skene_matches_crowdkit_and_beats_majority(seed: int, k: int) -> None:
    x, truth, true_acc = synthetic(seed, k=k)
    ours = dawid_skene(x)
    theirs = crowdkit_labels(crowdkit.DawidSkene(n_iter=200, tol=1e-7), x)
    assert (ours.labels == theirs).mean() >= 0.99
    assert ours.converged
    assert ours.n_iter < ours.max_iter
    acc = (ours.labels == truth).mean()
    mv_acc = (majority_vote(x).labels == truth).mean()
    assert acc > mv_acc + 0.02, (acc, mv_acc)
    # competence = estimated accuracy: same order as the truth, and close to it
    pairs_ordered(ours.competence, true_acc, margin=0.1)
    np.testing.assert_allclose(np.array(ours.competence, dtype=float), true_acc, atol=0.06)
    assert ours.confusion is not None
    assert ours.confusion.shape == (x.shape[0], k, k)
    np.testing.assert_allclose(ours.confusion.sum(axis=2), 1.0)
    np.testing.assert_allclose(ours.posterior.sum(axis=1), 1.0)  # type: ignore[union-attr]


@pytest.mark.parametrize(("seed", "k"), [(0, 5), (1, 5), (2, 2), (3, 3)])
def test_mace_matches_crowdkit_and_beats_majority(seed: int, k: int) -> None:
    x, truth, true_acc = synthetic(seed, k=k)
    ours = mace(x, seed=seed)
    # crowd-kit's defaults are the MACE paper's: variational Bayes, Beta(0.5, 0.5), Dirichlet(10);
    # all its restarts reuse random_state, so one restart is the same fit and 10x faster.  It runs a
    # fixed number of iterations (no tolerance); 100 is close enough to convergence here.
    theirs = crowdkit_labels(crowdkit.MACE(n_restarts=1, n_iter=100, random_state=seed), x)
    assert (ours.labels == theirs).mean() >= 0.99
    assert ours.converged
    acc = (ours.labels == truth).mean()
    mv_acc = (majority_vote(x).labels == truth).mean()
    assert acc > mv_acc + 0.02, (acc, mv_acc)
    # MACE's competence is P(not spamming): for a careful rater with accuracy a (errors uniform)
    # that is (a - 1/k) / (1 - 1/k); spammers and the adversary never "know" the answer (0).
    true_theta = np.clip((true_acc - 1 / k) / (1 - 1 / k), 0, 1)
    true_theta[true_acc <= 1 / k] = 0.0
    pairs_ordered(ours.competence, true_theta, margin=0.1)
    np.testing.assert_allclose(np.array(ours.competence, dtype=float), true_theta, atol=0.08)
    assert ours.strategy is not None
    np.testing.assert_allclose(ours.strategy.sum(axis=1), 1.0)


def test_mace_em_variant_matches_crowdkit_em() -> None:
    x, truth, _ = synthetic(5, n_items=2000)
    ours = mace(x, variant="em", seed=0)
    theirs = crowdkit_labels(crowdkit.MACE(method="em", n_restarts=1, n_iter=100), x)
    assert ours.converged
    assert (ours.labels == theirs).mean() >= 0.99
    assert (ours.labels == truth).mean() > (majority_vote(x).labels == truth).mean()


def test_long_format_round_trip_matches() -> None:
    x, _, _ = synthetic(7, n_items=500)
    u, r, v = wide_to_long(x)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(u))
    wide = long_to_wide([f"item{i:04d}" for i in u[order]], r[order] * 10, v[order])
    np.testing.assert_array_equal(wide.ratings, x)
    assert wide.unit_ids[0] == "item0000"
    assert wide.rater_ids.tolist() == list(range(0, 10 * x.shape[0], 10))
    assert dawid_skene(wide.ratings).to_dict() == dawid_skene(x).to_dict()


# ----------------------------------------------------------------------------- behaviour
def test_mace_is_deterministic_per_seed() -> None:
    x, _, _ = synthetic(11, n_items=800)
    a, b = mace(x, seed=42), mace(x, seed=42)
    assert a.to_dict() == b.to_dict()
    np.testing.assert_array_equal(a.posterior, b.posterior)  # type: ignore[arg-type]
    c = mace(x, seed=43)
    assert c.restart_log_likelihoods != a.restart_log_likelihoods  # the seed does drive the restarts
    assert (c.labels == a.labels).mean() > 0.99
    assert len(a.restart_log_likelihoods) == a.n_restarts == 10
    assert a.log_likelihood == max(a.restart_log_likelihoods)
    assert dawid_skene(x).to_dict() == dawid_skene(x).to_dict()


@pytest.mark.parametrize("class_prior", ["uniform", "learned"])
def test_mace_restarts_fitted_side_by_side_are_each_the_fit_alone(class_prior: str) -> None:
    """The restarts run as one batch; the first restart draws what a single restart with the same seed
    draws, so its fit must come out the same to the bit, and stopping at its own iteration."""
    x, _, _ = synthetic(12, n_items=600, k=3)
    alone = mace(x, seed=5, n_restarts=1, class_prior=class_prior)
    many = mace(x, seed=5, n_restarts=6, class_prior=class_prior)
    assert many.restart_log_likelihoods[0] == alone.log_likelihood
    assert len(set(many.restart_log_likelihoods)) == 6
    capped = mace(x, seed=5, n_restarts=6, max_iter=4, class_prior=class_prior)
    assert capped.n_iter == 4
    assert not capped.converged
    first = mace(x, seed=5, n_restarts=1, max_iter=4, class_prior=class_prior)
    assert capped.restart_log_likelihoods[0] == first.log_likelihood


def test_dawid_skene_convergence() -> None:
    x, _, _ = synthetic(12, n_items=1000)
    lls = [dawid_skene(x, max_iter=i, tol=0.0).log_likelihood for i in range(1, 15)]
    assert all(b >= a - 1e-6 for a, b in itertools.pairwise(lls))  # EM never decreases it
    capped = dawid_skene(x, max_iter=2)
    assert not capped.converged
    assert capped.n_iter == 2
    assert any("did not converge" in n for n in capped.notes)
    full = dawid_skene(x, tol=1e-9, max_iter=1000)
    assert full.converged
    assert full.n_iter < 1000
    loose = dawid_skene(x)  # default tol
    assert loose.log_likelihood == pytest.approx(full.log_likelihood, rel=1e-6)


def test_mace_convergence() -> None:
    x, _, _ = synthetic(13, n_items=1000)
    capped = mace(x, max_iter=3, n_restarts=2)
    assert not capped.converged
    assert capped.n_iter == 3
    assert any("did not converge" in n for n in capped.notes)
    res = mace(x, tol=1e-9, max_iter=2000, n_restarts=2)
    assert res.converged
    assert res.n_iter < 2000
    assert mace(x, n_restarts=2).log_likelihood == pytest.approx(res.log_likelihood, rel=1e-5)


def test_majority_vote_and_tie_break() -> None:
    x = np.array(
        [
            [1, 2, 3, 1, nan, 3, 2],
            [1, 3, 3, 2, nan, 3, nan],
            [2, 2, 1, nan, nan, nan, nan],
            [nan, 3, 1, nan, nan, nan, nan],
        ]
    )
    # overall use: category 1 five times, 2 five times, 3 six times
    res = majority_vote(x)
    # unit 1: 2 vs 3 -> 3 (more frequent overall); unit 2: 1 vs 3 -> 3;
    # unit 3: 1 vs 2, equally frequent overall -> smallest value, 1
    np.testing.assert_array_equal(res.labels, [1, 3, 3, 1, nan, 3, 2])
    assert res.tied.tolist() == [False, True, True, True, False, False, False]
    np.testing.assert_array_equal(res.vote_share, [2 / 3, 0.5, 0.5, 0.5, nan, 1, 1])
    assert res.unrated_units == (4,)
    d = as_json(res)
    assert d["labels"][4] is None
    assert d["vote_share"][4] is None


def test_numeric_consensus() -> None:
    x = np.array([[1, 5, nan, nan], [2, 4, 3, nan], [4, nan, nan, nan]], dtype=float)
    mean = numeric_consensus(x, "mean")
    median = numeric_consensus(x, "median")
    assert mean.values[:3].tolist() == [7 / 3, 4.5, 3.0]
    assert median.values[:3].tolist() == [2.0, 4.5, 3.0]
    assert as_json(mean)["values"][3] is None
    assert mean.unrated_units == (3,)
    with pytest.raises(ValueError, match="rule"):
        numeric_consensus(x, "mode")


# ----------------------------------------------------------------------------- degenerate inputs
@pytest.mark.parametrize("fit", [dawid_skene, mace])
def test_single_rater_reduces_to_their_labels(fit) -> None:  # type: ignore[no-untyped-def]
    x = np.array([[1, 2, 3, 2, nan], [nan] * 5])
    res = fit(x)
    np.testing.assert_array_equal(res.labels, [1, 2, 3, 2, nan])
    assert res.competence == (None, None)
    assert all(r and "one rater" in r for r in res.competence_reasons)
    assert res.confidence is None
    assert res.posterior is None
    assert as_json(res)["labels"][4] is None


@pytest.mark.parametrize("fit", [dawid_skene, mace])
def test_single_category_used(fit) -> None:  # type: ignore[no-untyped-def]
    x = np.array([[4, 4, nan], [4, nan, 4], [nan, 4, 4.0]])
    res = fit(x)
    assert res.labels.tolist() == [4.0, 4.0, 4.0]
    assert res.confidence.tolist() == [1.0, 1.0, 1.0]
    assert all(c is None for c in res.competence)
    assert any("only one category" in n for n in res.notes)
    # with a declared scale the same holds; the posterior has a column per category
    res5 = fit(x, classes=[1, 2, 3, 4, 5])
    assert res5.labels.tolist() == [4.0, 4.0, 4.0]
    np.testing.assert_array_equal(res5.posterior[:, 3], 1.0)
    as_json(res5)


@pytest.mark.parametrize("fit", [dawid_skene, mace])
def test_item_rated_once_unrated_item_and_idle_rater(fit) -> None:  # type: ignore[no-untyped-def]
    x, _, _ = synthetic(21, n_items=600)
    extra = np.full((x.shape[0], 2), nan)
    extra[0, 0] = 3.0  # the best rater alone rates one item; the other item has no rating
    x = np.vstack([np.hstack([x, extra]), np.full((1, x.shape[1] + 2), nan)])  # plus an idle rater
    res = fit(x)
    assert res.labels[-2] == 3.0
    assert res.n_ratings[-2] == 1
    assert 0.5 < res.confidence[-2] < 1.0  # one good rater: likely, not certain
    assert np.isnan(res.labels[-1])
    assert res.unrated_units == (x.shape[1] - 1,)
    assert res.competence[-1] is None
    assert res.competence_reasons[-1] == "rater has no ratings"
    assert all(c is not None for c in res.competence[:-1])
    assert any("rated once" in n for n in res.notes)
    assert any("no ratings" in n for n in res.notes)
    d = as_json(res)
    assert d["labels"][-1] is None
    assert d["posterior"][-1] is None
    assert d["confidence"][-1] is None
    assert d["competence"][-1] is None


@pytest.mark.parametrize("fit", [dawid_skene, mace, majority_vote])
def test_no_ratings_at_all(fit) -> None:  # type: ignore[no-untyped-def]
    res = fit(np.full((2, 3), nan))
    assert np.isnan(res.labels).all()
    assert as_json(res)["labels"] == [None, None, None]


def test_invalid_inputs() -> None:
    with pytest.raises(ValueError, match="outside classes"):
        dawid_skene(np.array([[1.0, 2.0], [2.0, 7.0]]), classes=[1, 2, 3])
    with pytest.raises(ValueError, match="2-D"):
        mace(np.arange(3.0))
    with pytest.raises(ValueError, match="more than once"):
        long_to_wide(["a", "a"], ["r1", "r1"], [1, 2])
    with pytest.raises(ValueError, match="variant"):
        mace(np.ones((2, 2)), variant="gibbs")


@settings(max_examples=40, deadline=None)
@given(
    st.integers(2, 4).flatmap(
        lambda k: st.lists(
            st.lists(st.one_of(st.none(), st.integers(1, k)), min_size=6, max_size=6), min_size=2, max_size=5
        )
    )
)
def test_results_are_well_formed(rows: list[list[int | None]]) -> None:
    x = np.array([[nan if v is None else v for v in row] for row in rows], dtype=float)
    observed = set(x[~np.isnan(x)].tolist())
    for res in (dawid_skene(x), mace(x, n_restarts=2), majority_vote(x)):
        d = as_json(res)  # never NaN in JSON
        rated = ~np.isnan(x).all(axis=0)
        assert np.isnan(res.labels[~rated]).all()
        assert set(res.labels[rated].tolist()) <= observed
        posterior = getattr(res, "posterior", None)
        if posterior is not None:
            np.testing.assert_allclose(posterior[rated].sum(axis=1), 1.0)
            assert (res.confidence[rated] >= 1 / len(res.classes) - 1e-12).all()
        for c, why in zip(d.get("competence", []), d.get("competence_reasons", []), strict=True):
            assert (c is None) == (why is not None)
