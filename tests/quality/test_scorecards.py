"""Scorecard figures against hand-computed ones: the pure figures, then a quality run end to end."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from django.urls import reverse

from evalplatform.projects.models import Task
from evalplatform.quality import figures
from evalplatform.quality.models import QualitySnapshot
from evalplatform.quality.services import compute_quality, set_gold, update_quality_settings
from tests.quality.conftest import client_for, member, rate

# --- pure figures ---------------------------------------------------------------------------------


def test_straight_lining_counts_ratings_with_one_value_everywhere():
    ratings = [[4, 4]] * 9 + [[4, 5], [3], [2, 2]]  # [3] scores one dimension: not counted
    s = figures.straight_lining(ratings)
    assert (s.n_ratings, s.n_straight, s.flagged) == (11, 10, True)
    assert s.share == pytest.approx(10 / 11)
    few = figures.straight_lining([[1, 1]] * 5)
    assert few.share == 1.0
    assert not few.flagged
    assert "fewer than 10" in few.reason
    assert figures.straight_lining([[1], [2]]).reason.startswith("no rating scores two")


def test_median_time_and_share_below_the_minimum():
    assert figures.median_seconds([1000, 3000, 2000, None]) == 2.0
    assert figures.median_seconds([None]) is None
    assert figures.share_below([1000, 3000, 2000, None], 2.5) == pytest.approx(2 / 3)
    assert figures.share_below([1000], 0) is None


def test_agreement_by_week_is_the_share_of_matching_scores_of_the_others():
    w1, w2 = date(2025, 1, 6).toordinal(), date(2025, 1, 13).toordinal()
    # unit 1: a=1, b=1, c=2 (week 1); unit 2: a=3, b=3 (week 2)
    out = figures.agreement_by_week([1, 1, 1, 2, 2], [0, 1, 2, 0, 1], [1, 1, 2, 3, 3], [w1, w1, w1, w2, w2])
    assert out[0] == [figures.WeekAgreement(w1, 0.5, 2), figures.WeekAgreement(w2, 1.0, 1)]
    assert out[2] == [figures.WeekAgreement(w1, 0.0, 2)]



@pytest.mark.parametrize("seed", range(4))
def test_agreement_by_week_matches_a_count_by_hand(seed):
    """The counts by codes against the definition, on ids far apart, negative and fractional values,
    and several raters and weeks (seed 3: unit ids past four times the number of scores)."""
    rng = random.Random(seed)
    w0 = date(2025, 1, 6).toordinal()
    rows = [(rng.randrange(40) * (1_000_003 if seed == 3 else 1), rng.choice([3, 11, 7_000]),
             rng.choice([-1.0, 0.5, 2.0, 4.0]), w0 + 7 * rng.randrange(4)) for _ in range(300)]
    rows = list({(u, r): (u, r, v, w) for u, r, v, w in rows}.values())  # one score per unit and rater
    expected: dict[int, dict[int, list[int]]] = {}
    for u, r, v, w in rows:
        others = [o for o in rows if o[0] == u and o[1] != r]
        if others:
            tally = expected.setdefault(r, {}).setdefault(w, [0, 0])
            tally[0] += sum(o[2] == v for o in others)
            tally[1] += len(others)
    out = figures.agreement_by_week(*zip(*rows, strict=True))
    assert out == {r: [figures.WeekAgreement(w, a / n, n) for w, (a, n) in sorted(weeks.items())]
                   for r, weeks in sorted(expected.items())}
    assert list(out) == sorted(out)

def test_drift_is_the_weighted_slope_of_weekly_agreement():
    w = date(2025, 1, 6).toordinal()
    weeks = [figures.WeekAgreement(w, 0.9, 10), figures.WeekAgreement(w + 7, 0.7, 10),
             figures.WeekAgreement(w + 14, 0.5, 10), figures.WeekAgreement(w + 21, 0.0, 2)]  # too few: ignored
    d = figures.drift(weeks)
    assert d.slope_per_week == pytest.approx(-0.2)
    assert d.flagged
    # weights: (0, 1.0, n=1) and (1, 0.0, n=1), (2, 1.0, n=2): means x=1.25, y=0.75
    # slope = sum w(x-xm)(y-ym) / sum w(x-xm)^2 = (-1.25*.25 + -.25*-.75 + 2*.75*.25) / (1.5625+.0625+2*.5625)
    uneven = [figures.WeekAgreement(w, 1.0, 5), figures.WeekAgreement(w + 7, 0.0, 5),
              figures.WeekAgreement(w + 14, 1.0, 10)]
    expected = (-1.25 * 0.25 + -0.25 * -0.75 + 2 * 0.75 * 0.25) / (1.5625 + 0.0625 + 2 * 0.5625)
    assert figures.drift(uneven).slope_per_week == pytest.approx(expected)
    assert not figures.drift(uneven).flagged
    short = figures.drift(weeks[:2])
    assert short.slope_per_week is None
    assert "needs 3 weeks" in short.reason


# --- a quality run --------------------------------------------------------------------------------


def cohen(a: list[int], b: list[int]) -> float:
    """Cohen's kappa by its definition: (p_o - p_e) / (1 - p_e)."""
    n = len(a)
    po = sum(x == y for x, y in zip(a, b, strict=True)) / n
    pe = sum((a.count(c) / n) * (b.count(c) / n) for c in set(a) | set(b))
    return (po - pe) / (1 - pe)


def cards_by_rater(result) -> dict:
    return {c["rater"]: c for c in result["raters"]}


def dim(card, key) -> dict:
    return next(d for d in card["dimensions"] if d["dimension"] == key)


@pytest.mark.django_db
def test_agreement_leniency_time_and_gold_figures_match_hand_computed_ones(make_project):
    project = make_project(items=5, overlap=3, raters=("alice", "bob", "carol"))
    project = update_quality_settings(project=project, min_seconds_per_item=5)
    tasks = list(Task.objects.filter(project=project).order_by("id"))
    harmless = {"alice": [1, 1, 0, 0], "bob": [1, 1, 0, 1], "carol": [1, 0, 0, 1]}
    accuracy = {"alice": 5, "bob": 3, "carol": 4}
    durations = {"alice": [2000, 3000, 1000, 2500], "bob": [30000] * 4, "carol": [9000] * 4}
    for name in harmless:
        for i, task in enumerate(tasks[:4]):
            rate(task, member(project, name), {"accuracy": accuracy[name], "helpfulness": 2 + i % 2,
                                                "harmless": harmless[name][i]}, duration_ms=durations[name][i])
    set_gold(task=tasks[4], expectations={"accuracy": {"value": 4, "tolerance": 1}})
    rate(tasks[4], member(project, "alice"), {"accuracy": 1, "helpfulness": 1, "harmless": 1}, duration_ms=2000)
    rate(tasks[4], member(project, "bob"), {"accuracy": 5, "helpfulness": 1, "harmless": 1}, duration_ms=30000)

    cards = cards_by_rater(compute_quality(project=project))
    alice, bob, carol = cards["alice"], cards["bob"], cards["carol"]
    expected_alice = (cohen(harmless["alice"], harmless["bob"]) + cohen(harmless["alice"], harmless["carol"])) / 2
    assert expected_alice == pytest.approx(0.25)
    assert dim(alice, "harmless")["kappa_vs_others"] == pytest.approx(expected_alice)
    # alpha of alice and bob alone (carol left out), nominal: 1 - (n-1) * D_o / D_e = 1 - 7 * 2 / (2 * 5 * 3)
    assert dim(carol, "harmless")["alpha_without"] == pytest.approx(1 - 14 / 30)
    # leniency on accuracy: own score minus the mean of the others', on the same (non-gold) items
    assert dim(alice, "accuracy")["mean_offset"] == pytest.approx(5 - 3.5)
    assert dim(bob, "accuracy")["mean_offset"] == pytest.approx(3 - 4.5)
    assert dim(carol, "accuracy")["mean_offset"] == pytest.approx(0.0)
    # time per item over every rating (the gold one too: raters cannot tell it apart)
    assert alice["median_seconds"] == pytest.approx(2.0)
    assert alice["share_below_min_seconds"] == 1.0
    assert "too_fast" in alice["flags"]
    assert "too_fast" not in bob["flags"]
    # gold: alice 1 vs 4±1 is wrong, bob 5 vs 4±1 is right
    assert (alice["gold"]["correct"], alice["gold"]["n_scores"], bob["gold"]["accuracy"]) == (0, 1, 1.0)
    assert carol["gold"] is None
    # competence is estimated for every rater next to the agreement figures
    for card in cards.values():
        assert 0 <= dim(card, "harmless")["competence_dawid_skene"] <= 1
        assert 0 <= dim(card, "harmless")["competence_mace"] <= 1
    project.refresh_from_db()
    snap = QualitySnapshot.objects.get(project=project)
    assert snap.result["raters"][0]["rater"] == "alice"
    assert snap.data_seq == project.ratings_seq


@pytest.mark.django_db
def test_straight_lining_is_flagged_over_many_items(make_project):
    project = make_project(items=10, overlap=2, raters=("alice", "bob"))
    for i, task in enumerate(Task.objects.filter(project=project).order_by("id")):
        rate(task, member(project, "alice"), {"accuracy": 4, "helpfulness": 4, "harmless": 1})
        rate(task, member(project, "bob"), {"accuracy": 1 + i % 5, "helpfulness": 5 - i % 5, "harmless": 1})
    cards = cards_by_rater(compute_quality(project=project))
    assert cards["alice"]["straight_lining"]["n_straight"] == 10
    assert "straight_lining" in cards["alice"]["flags"]
    # bob gives equal values only when 1 + i % 5 == 5 - i % 5, i.e. i % 5 == 2: twice in ten
    assert cards["bob"]["straight_lining"]["n_straight"] == 2
    assert "straight_lining" not in cards["bob"]["flags"]


@pytest.mark.django_db
def test_falling_weekly_agreement_is_flagged_as_drift(make_project):
    project = make_project(items=6, overlap=2, raters=("bob", "carol"))
    tasks = list(Task.objects.filter(project=project).order_by("id"))
    bob_scores = {"accuracy": 3, "helpfulness": 3, "harmless": 1}
    monday = datetime(2025, 1, 6, 12, tzinfo=UTC)
    # carol matches bob on 6 of 6 scores in week 1, on 4 of 6 in week 2 and on none in week 3
    carol_scores = [bob_scores, bob_scores,
                    {"accuracy": 3, "helpfulness": 3, "harmless": 0}, {"accuracy": 5, "helpfulness": 3, "harmless": 1},
                    {"accuracy": 1, "helpfulness": 1, "harmless": 0}, {"accuracy": 5, "helpfulness": 5, "harmless": 0}]
    for i, task in enumerate(tasks):
        rate(task, member(project, "bob"), bob_scores)
        rate(task, member(project, "carol"), carol_scores[i], at=monday + timedelta(weeks=i // 2))
    carol = cards_by_rater(compute_quality(project=project))["carol"]
    assert [(w["week"], w["agreement"], w["n"]) for w in carol["drift"]["weeks"]] == [
        ("2025-01-06", 1.0, 6), ("2025-01-13", pytest.approx(4 / 6), 6), ("2025-01-20", 0.0, 6)
    ]
    assert carol["drift"]["slope_per_week"] == pytest.approx(-0.5)
    assert "drift" in carol["flags"]


@pytest.mark.django_db
def test_the_lead_page_shows_the_stored_scorecards_and_their_parameters(project, lead):
    for task in Task.objects.filter(project=project)[:2]:
        for name in ("alice", "bob"):
            rate(task, member(project, name), {"accuracy": 3, "helpfulness": 3, "harmless": 1})
    page = client_for(lead).get(reverse("quality-overview", args=[project.slug])).content.decode()
    assert "Not computed yet" in page
    compute_quality(project=project, parameters={"include_paused": False})
    page = client_for(lead).get(reverse("quality-overview", args=[project.slug])).content.decode()
    assert 'data-rater="alice"' in page
    assert "paused raters left out" in page


@pytest.mark.django_db
def test_minimum_seconds_beyond_the_column_is_refused_not_wrapped(make_project):
    """PostgreSQL would store 4,095,237,510 as -199,729,786 (the schema fuzzer found it as a 500)."""
    from evalplatform.quality.services import QualityError

    project = make_project(items=1, overlap=1, raters=("alice",))
    with pytest.raises(QualityError, match="at most 2147483647"):
        update_quality_settings(project=project, min_seconds_per_item=4_095_237_510)
    project.refresh_from_db()
    assert project.min_seconds_per_item == 0
