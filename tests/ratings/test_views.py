"""The scoring page and its submit/skip endpoints, as a plain form flow and as the script's JSON."""

import io
import json
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from evalplatform.assignments.models import Assignment
from evalplatform.assignments.selectors import shortcut_keys
from evalplatform.assignments.services import expire_leases
from evalplatform.projects.models import Item, Membership, Response, Task
from evalplatform.projects.services import add_member, create_project, ensure_tasks, import_items, set_paused
from evalplatform.ratings.models import Rating
from evalplatform.ratings.services import submit_rating
from rubrics.services import import_rubric
from tests.fixtures import GOOD as GOOD_SCORES
from tests.fixtures import RUBRIC, UserFactory, next_assignment

pytestmark = pytest.mark.django_db
GOOD = {"score-accuracy": "4", "score-helpfulness": "3", "score-harmless": "1", "duration_ms": "5321"}
JSON = {"HTTP_ACCEPT": "application/json"}


def user(project, name):
    return project.memberships.get(user__username=name).user


def client_for(u) -> Client:
    c = Client()
    c.force_login(u)
    return c


def rate_url(project):
    return reverse("rate", args=[project.slug])


def submit_url(project, assignment):
    return reverse("rate-submit", args=[project.slug, assignment.pk])


def skip_url(project, assignment):
    return reverse("rate-skip", args=[project.slug, assignment.pk])


def held(project, u) -> Assignment:
    return Assignment.objects.get(project=project, rater=u, status=Assignment.Status.ACTIVE)


def test_rate_page_shows_the_item_the_rubric_and_the_progress(project):
    alice = user(project, "alice")
    page = client_for(alice).get(rate_url(project))
    assert page.status_code == 200
    html = page.content.decode()
    a = held(project, alice)
    assert a.task.item.prompt in html
    assert a.task.response_a.text in html
    assert "Fully right" in html
    assert "Accuracy" in html  # levels with their labels
    assert "Rate <strong>each</strong> draft." in html  # guidelines as rendered Markdown
    assert 'name="score-why"' in html
    assert "<textarea" in html  # free text as a textarea
    assert submit_url(project, a) in html
    assert skip_url(project, a) in html
    assert page.context["progress"].left == 5
    assert page.context["progress"].done_project == 0
    assert 'data-keys="1 y"' in html  # shortcut hints for the script


def test_model_names_are_never_shown_to_raters(make_project):
    project = make_project("blind", raters=("r1",))
    line = json.dumps({"id": "x", "prompt": "P", "responses": [{"model": "secret-model-x", "text": "R"}]})
    import_items(project=project, stream=io.BytesIO(line.encode()), fmt="jsonl")
    assert "secret-model-x" not in client_for(user(project, "r1")).get(rate_url(project)).content.decode()


def test_the_page_has_no_inline_script_or_style(project):
    html = client_for(user(project, "alice")).get(rate_url(project)).content.decode()
    assert " style=" not in html
    assert "<style" not in html
    for tag in html.split("<script")[1:]:
        head, _, rest = tag.partition(">")
        assert "src=" in head or 'type="application/json"' in head
        assert rest.startswith("</script>") or 'type="application/json"' in head


def test_reloading_the_page_keeps_the_same_item(project):
    c = client_for(user(project, "alice"))
    first = c.get(rate_url(project)).context["assignment"].pk
    assert c.get(rate_url(project)).context["assignment"].pk == first
    assert Assignment.objects.filter(rater__username="alice").count() == 1


def test_plain_form_submit_stores_the_rating_and_redirects_to_the_next_item(project):
    alice = user(project, "alice")
    c = client_for(alice)
    c.get(rate_url(project))
    a = held(project, alice)
    response = c.post(submit_url(project, a), {**GOOD, "score-why": "  clear  ", "justification": "fine"})
    assert response.status_code == 302
    assert response.url == rate_url(project)
    rating = Rating.objects.get(assignment=a)
    values = {s.dimension.key: (s.value if s.value is not None else s.text) for s in rating.scores.all()}
    assert values == {"accuracy": 4, "helpfulness": 3, "harmless": 1, "why": "  clear  "}
    assert rating.justification == "fine"
    assert rating.duration_ms == 5321
    following = c.get(response.url)
    assert "Rating saved." in following.content.decode()
    assert following.context["assignment"].task_id != a.task_id
    assert following.context["progress"].done_project == 1


def test_missing_and_off_scale_answers_are_shown_beside_the_questions_and_nothing_is_stored(project):
    alice = user(project, "alice")
    c = client_for(alice)
    c.get(rate_url(project))
    a = held(project, alice)
    response = c.post(submit_url(project, a), {"score-accuracy": "9", "score-harmless": "1", "score-why": "kept"})
    assert response.status_code == 400
    html = response.content.decode()
    fields = {f["dim"].key: f for f in response.context["fields"]}
    assert "off the scale" in fields["accuracy"]["error"]
    assert "required" in fields["helpfulness"]["error"]
    assert fields["harmless"]["error"] == ""
    assert fields["harmless"]["value"] == "1"
    assert "off the scale" in html
    assert 'value="1" data-keys="1 y" required checked' in html
    assert ">kept</textarea>" in html  # what the rater typed is kept
    assert not Rating.objects.exists()
    assert Assignment.objects.get(pk=a.pk).status == Assignment.Status.ACTIVE


def test_required_justification_is_enforced_by_the_server(make_project):
    version, _ = import_rubric(data={**RUBRIC, "slug": "strict", "justification": "required"})
    project = make_project("strict", items=1, raters=("r1",), version=version)
    c = client_for(user(project, "r1"))
    page = c.get(rate_url(project)).content.decode()
    assert 'name="justification"' in page
    a = held(project, user(project, "r1"))
    response = c.post(submit_url(project, a), GOOD)
    assert response.status_code == 400
    assert "justification" in response.context["justification_error"]
    assert c.post(submit_url(project, a), {**GOOD, "justification": "because"}).status_code == 302


def test_no_justification_box_when_the_rubric_does_not_ask(make_project):
    version, _ = import_rubric(data={**RUBRIC, "slug": "terse", "justification": "none"})
    project = make_project("terse", items=1, raters=("r1",), version=version)
    assert 'name="justification"' not in client_for(user(project, "r1")).get(rate_url(project)).content.decode()


def test_json_submit_answers_with_the_next_item_in_the_same_response(project):
    alice = user(project, "alice")
    c = client_for(alice)
    c.get(rate_url(project))
    a = held(project, alice)
    response = c.post(submit_url(project, a), GOOD, **JSON)
    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "task"
    assert data["notice"] == "Rating saved."
    assert data["level"] == "success"
    nxt = held(project, alice)
    assert nxt.pk != a.pk
    assert nxt.task.item.prompt in data["html"]
    assert 'id="rate-task"' in data["html"]
    assert Rating.objects.get(assignment=a).duration_ms == 5321


def test_json_submit_with_problems_answers_400_with_every_error(project):
    alice = user(project, "alice")
    c = client_for(alice)
    c.get(rate_url(project))
    response = c.post(submit_url(project, held(project, alice)), {"score-accuracy": "x"}, **JSON)
    assert response.status_code == 400
    assert response.json()["status"] == "invalid"
    assert set(response.json()["errors"]) == {"accuracy", "helpfulness", "harmless"}


def test_submitting_twice_keeps_the_first_rating(project):
    alice = user(project, "alice")
    c = client_for(alice)
    c.get(rate_url(project))
    a = held(project, alice)
    c.post(submit_url(project, a), GOOD, **JSON)
    same = c.post(submit_url(project, a), GOOD, **JSON)
    assert same.status_code == 200
    assert "already rated" in same.json()["notice"]
    again = c.post(submit_url(project, a), {**GOOD, "score-accuracy": "1"}, **JSON)
    assert again.status_code == 409
    assert "revise" in again.json()["notice"]
    assert Rating.objects.filter(assignment=a).count() == 1
    assert Rating.objects.get(assignment=a).scores.get(dimension__key="accuracy").value == 4
    assert Task.objects.get(pk=a.task_id).rated_count == 1


def test_skip_with_a_reason_moves_on_and_never_offers_the_item_again(project):
    alice = user(project, "alice")
    c = client_for(alice)
    c.get(rate_url(project))
    a = held(project, alice)
    response = c.post(skip_url(project, a), {"skip_reason": " not my language "}, **JSON)
    assert response.status_code == 200
    assert response.json()["status"] == "task"
    skipped = Assignment.objects.get(pk=a.pk)
    assert skipped.status == Assignment.Status.SKIPPED
    assert skipped.skip_reason == "not my language"
    served = []
    while (nxt := next_assignment(project=project, rater=alice)) is not None:
        served.append(nxt.task_id)
        submit_rating(assignment=nxt, scores={"accuracy": 3, "helpfulness": 3, "harmless": 1})
    assert a.task_id not in served
    assert len(served) == 4


def test_skip_through_the_plain_form(project):
    alice = user(project, "alice")
    c = client_for(alice)
    c.get(rate_url(project))
    a = held(project, alice)
    response = c.post(skip_url(project, a), {**GOOD, "skip": "1", "skip_reason": ""})
    assert response.status_code == 302
    assert Assignment.objects.get(pk=a.pk).status == Assignment.Status.SKIPPED
    assert not Rating.objects.exists()


def test_empty_queue_shows_a_clear_page(make_project):
    project = make_project("tiny", items=1, overlap=1, raters=("r1", "r2"))
    r1, r2 = user(project, "r1"), user(project, "r2")
    c1 = client_for(r1)
    c1.get(rate_url(project))
    done = c1.post(submit_url(project, held(project, r1)), GOOD, **JSON).json()
    assert done["status"] == "empty"
    assert "Nothing left to rate" in done["html"]
    page = client_for(r2).get(rate_url(project))
    assert page.status_code == 200
    assert page.context["state"] == "empty"
    assert "Nothing left to rate" in page.content.decode()
    assert 'id="rating-form"' not in page.content.decode()


def test_paused_rater_is_told_so_and_gets_no_item(project):
    alice = user(project, "alice")
    set_paused(project=project, user=alice, paused=True)
    page = client_for(alice).get(rate_url(project))
    assert page.context["state"] == "paused"
    assert "paused by its lead" in page.content.decode()
    assert not Assignment.objects.filter(rater=alice).exists()


def test_late_submit_after_the_item_filled_is_refused_with_a_clear_message(make_project):
    project = make_project("late", items=2, overlap=1, raters=("r1", "r2"))
    r1, r2 = user(project, "r1"), user(project, "r2")
    c1 = client_for(r1)
    c1.get(rate_url(project))
    a = held(project, r1)
    later = timezone.now() + timedelta(seconds=project.lease_seconds + 5)
    Assignment.objects.filter(pk=a.pk).update(leased_at=a.leased_at - timedelta(hours=2),
                                              lease_expires_at=a.lease_expires_at - timedelta(hours=2))
    expire_leases(project=project, now=later)
    b = next_assignment(project=project, rater=r2)
    assert b.task_id == a.task_id
    submit_rating(assignment=b, scores={"accuracy": 3, "helpfulness": 3, "harmless": 1})
    response = c1.post(submit_url(project, a), GOOD, **JSON)
    assert response.status_code == 409
    data = response.json()
    assert "expired" in data["notice"]
    assert data["level"] == "warning"
    assert data["status"] == "task"
    plain = c1.post(submit_url(project, a), GOOD, follow=True)
    assert "expired" in plain.content.decode()
    assert not Rating.objects.filter(assignment=a).exists()


def test_pairwise_sides_follow_the_assignment_and_values_are_stored_in_task_orientation(
    make_project, pairwise_version
):
    project = make_project("duel", kind="pairwise", version=pairwise_version, items=1, models=("m1", "m2"),
                           raters=("r1",), overlap=1)
    r1 = user(project, "r1")
    c = client_for(r1)
    c.get(rate_url(project))
    a = held(project, r1)
    Assignment.objects.filter(pk=a.pk).update(swapped=True)
    html = c.get(rate_url(project)).content.decode()
    task = Task.objects.select_related("response_a", "response_b").get(pk=a.task_id)
    assert html.index(task.response_b.text) < html.index(task.response_a.text)  # b on the left, as "A"
    assert "Response A" in html
    assert "Response B" in html
    assert "A is much better" in html
    assert c.post(submit_url(project, a), {"score-preference": "-2"}).status_code == 302
    assert Rating.objects.get(assignment=a).scores.get().value == 2  # "A" was response_b


def test_reference_is_shown_only_when_the_project_says_so(make_project):
    shown = make_project("shown", raters=("r1",))
    hidden = make_project("hidden", raters=("r1",), show_reference=False)
    line = json.dumps({"id": "x", "prompt": "P", "reference": "REF-*TEXT*",
                       "responses": [{"model": "m", "text": "R"}]}).encode()
    for p in (shown, hidden):
        import_items(project=p, stream=io.BytesIO(line), fmt="jsonl")
    c = client_for(user(shown, "r1"))
    assert "REF-<em>TEXT</em>" in c.get(rate_url(shown)).content.decode()
    assert "REF-" not in c.get(rate_url(hidden)).content.decode()


def test_untrusted_text_is_escaped_or_sanitised(make_project):
    project = make_project("xss", raters=("r1",))
    evil = '<script>window.__xss=1</script> <img src=x onerror="window.__xss=1"> [link](javascript:window.__xss=1)'
    item = Item.objects.create(project=project, external_id="evil", prompt=evil, reference=evil)
    Response.objects.create(item=item, model="m", text=evil)
    ensure_tasks(project=project, item_ids=[item.pk])
    html = client_for(user(project, "r1")).get(rate_url(project)).content.decode()
    assert "<script>window" not in html
    assert "<img" not in html
    assert ("javascript:" not in html.replace(
        "(javascript:window", ""
    ))
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in html
    assert 'href="javascript' not in html


def test_other_raters_scores_are_never_shown(project):
    alice, bob = user(project, "alice"), user(project, "bob")
    b = next_assignment(project=project, rater=bob)
    submit_rating(assignment=b, scores={"accuracy": 2, "helpfulness": 2, "harmless": 0, "why": "BOB-SECRET"},
                  justification="BOB-JUSTIFIES")
    page = client_for(alice).get(rate_url(project))
    assert page.context["assignment"].task_id == b.task_id  # the same item...
    html = page.content.decode()
    assert "BOB-SECRET" not in html
    assert "BOB-JUSTIFIES" not in html
    assert "checked" not in html  # ...and no scores


# --- Who may do what ------------------------------------------------------------------------


def test_anonymous_users_are_sent_to_log_in(project):
    response = Client().get(rate_url(project))
    assert response.status_code == 302
    assert reverse("login") in response.url


def test_strangers_get_404_and_leads_and_admins_who_do_not_rate_get_403(project, lead, admin_user):
    assert client_for(UserFactory(username="stranger")).get(rate_url(project)).status_code == 404
    assert client_for(lead).get(rate_url(project)).status_code == 403
    assert client_for(admin_user).get(rate_url(project)).status_code == 403
    assert not Assignment.objects.exists()


def test_a_rater_cannot_touch_another_raters_assignment(project):
    alice, bob = user(project, "alice"), user(project, "bob")
    a = next_assignment(project=project, rater=alice)
    bob_client = client_for(bob)
    assert bob_client.post(submit_url(project, a), GOOD).status_code == 404
    assert bob_client.post(skip_url(project, a), {}, **JSON).status_code == 404
    assert Assignment.objects.get(pk=a.pk).status == Assignment.Status.ACTIVE
    assert not Rating.objects.exists()


def test_a_rater_cannot_rate_in_a_project_they_are_not_in(project, make_project):
    other = make_project("other", items=1, raters=("zoe",))
    z = next_assignment(project=other, rater=user(other, "zoe"))
    alice = client_for(user(project, "alice"))
    assert alice.get(rate_url(other)).status_code == 404
    assert alice.post(submit_url(other, z), GOOD).status_code == 404
    assert alice.post(reverse("rate-submit", args=[project.slug, z.pk]), GOOD).status_code == 404


def test_state_changes_need_post_and_a_csrf_token(project):
    alice = user(project, "alice")
    a = next_assignment(project=project, rater=alice)
    c = Client(enforce_csrf_checks=True)
    c.force_login(alice)
    assert c.get(submit_url(project, a)).status_code == 405
    assert c.get(skip_url(project, a)).status_code == 405
    assert c.post(submit_url(project, a), GOOD, **JSON).status_code == 403
    assert c.post(skip_url(project, a), {}).status_code == 403
    assert not Rating.objects.exists()
    assert Assignment.objects.get(pk=a.pk).status == Assignment.Status.ACTIVE
    token = c.get(rate_url(project)).context["csrf_token"]
    ok = c.post(submit_url(project, a), GOOD, HTTP_X_CSRFTOKEN=str(token), **JSON)
    assert ok.status_code == 200
    assert Rating.objects.filter(assignment=a).exists()


def test_a_staff_member_who_is_a_rater_rates_like_anyone(project, admin_user):
    add_member(project=project, user=admin_user, role=Membership.Role.RATER)
    assert client_for(admin_user).get(rate_url(project)).context["state"] == "task"


def test_an_unused_project_without_items_is_empty_not_an_error(rubric_version, lead):
    project = create_project(slug="blank", rubric_version=rubric_version, created_by=lead)
    add_member(project=project, user=UserFactory(username="r1"), role=Membership.Role.RATER)
    assert client_for(user(project, "r1")).get(rate_url(project)).context["state"] == "empty"


def test_the_rating_page_and_a_submit_take_a_fixed_number_of_queries(make_project, django_assert_max_num_queries):
    project = make_project("q", items=30, overlap=3, raters=("r1", "r2", "r3"))
    r1 = user(project, "r1")
    for name in ("r2", "r3"):
        rater = user(project, name)
        for _ in range(10):
            submit_rating(assignment=next_assignment(project=project, rater=rater),
                          scores={"accuracy": 3, "helpfulness": 3, "harmless": 1})
    c = client_for(r1)
    with django_assert_max_num_queries(25):
        c.get(rate_url(project))
    with django_assert_max_num_queries(40):
        assert c.post(submit_url(project, held(project, r1)), GOOD, **JSON).status_code == 200


def test_shortcut_keys_follow_each_kind_of_scale():
    assert shortcut_keys("likert", [1, 2, 3, 4, 5]) == [("1",), ("2",), ("3",), ("4",), ("5",)]
    assert shortcut_keys("likert", list(range(1, 11)))[-1] == ("0",)
    assert shortcut_keys("likert", list(range(0, 11)))[-1] == ()
    assert shortcut_keys("binary", [0, 1]) == [("0", "n"), ("1", "y")]
    assert shortcut_keys("categorical", [0, 1, 2]) == [("1",), ("2",), ("3",)]
    assert shortcut_keys("pairwise", [-2, -1, 0, 1, 2]) == [("1",), ("2",), ("3",), ("4",), ("5",)]


def test_items_left_counts_what_the_queue_could_still_serve_the_rater(make_project):
    """The header's "left": open tasks the rater has never had (gold too while ordinary work remains,
    so gold items move it like any other), plus the one they hold; checked against a count task by
    task while others fill tasks and the rater rates, skips and holds."""
    from evalplatform.assignments.services import skip
    from evalplatform.quality.services import set_gold
    from evalplatform.ratings.selectors import rater_progress

    project = make_project("left", items=8, overlap=2, raters=("ann", "bob", "cy"))
    ann, bob, cy = (user(project, name) for name in ("ann", "bob", "cy"))
    set_gold(task=Task.objects.filter(project=project).order_by("-id").first(),
             expectations={"accuracy": 4}, created_by=project.created_by)

    def by_hand():
        mine = set(Assignment.objects.filter(rater=ann).values_list("task_id", flat=True))
        unseen = [t for t in Task.objects.filter(project=project) if t.claimed_count < t.capacity and t.pk not in mine]
        ordinary = sum(1 for t in unseen if not t.is_gold)
        open_unseen = ordinary + (sum(1 for t in unseen if t.is_gold) if ordinary else 0)
        holding = Assignment.objects.filter(rater=ann, status=Assignment.Status.ACTIVE).exists()
        return open_unseen + holding

    assert rater_progress(project=project, rater=ann).left == by_hand() == 8
    for other in (bob, cy, bob):  # others fill tasks: ann can no longer get those
        submit_rating(assignment=next_assignment(project=project, rater=other), scores=GOOD_SCORES)
    submit_rating(assignment=next_assignment(project=project, rater=ann), scores=GOOD_SCORES)
    skip(assignment=next_assignment(project=project, rater=ann))
    next_assignment(project=project, rater=ann)  # held
    assert rater_progress(project=project, rater=ann).left == by_hand()
    # Task 1 filled by bob and cy, task 2 by bob and ann; ann skipped task 3 and holds task 4:
    # tasks 5-7 and the gold task unseen, plus the one held.
    assert by_hand() == 5
