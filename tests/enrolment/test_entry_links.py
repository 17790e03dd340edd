"""External-workforce entry links: a worker arrives with a signed link token and their platform id,
gets a password-less rater account scoped to the project (made or resumed), rates up to the quota and
is shown the completion code and sent to the platform's completion URL."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from evalplatform.assignments.models import Assignment
from evalplatform.enrolment import workforce
from evalplatform.enrolment.models import EntryLink, ExternalWorker
from evalplatform.projects.models import Membership
from evalplatform.quality.selectors import snapshot
from evalplatform.quality.services import compute_quality
from evalplatform.ratings.exports import export_lines
from evalplatform.ratings.services import submit_rating
from tests.enrolment.conftest import COMPLETE as COMPLETE_URL
from tests.enrolment.conftest import PID, PID2, enter_url, rate_url
from tests.fixtures import GOOD, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_report_refresh")]
User = get_user_model()
FORM = {"score-accuracy": "4", "score-helpfulness": "3", "score-harmless": "1", "duration_ms": "5321"}


def held(worker_user) -> Assignment:
    return Assignment.objects.get(rater=worker_user, status=Assignment.Status.ACTIVE)


def rate_one(client, project) -> None:
    """Open the scoring page and submit the held item through the page's form (no script)."""
    assert client.get(rate_url(project)).status_code == 200
    user = User.objects.get(pk=client.session["_auth_user_id"])
    response = client.post(reverse("rate-submit", args=[project.slug, held(user).pk]), FORM)
    assert response.status_code == 302


def test_a_new_worker_gets_a_password_less_rater_account_in_the_project(client, study):
    project, link = study
    response = client.get(enter_url(link, PROLIFIC_PID=PID, STUDY_ID="study-1", SESSION_ID="sess-9"))
    assert response.status_code == 302
    assert response["Location"] == rate_url(project)
    worker = ExternalWorker.objects.get()
    assert (worker.worker_id, worker.study_id, worker.session_id, worker.quota) == (PID, "study-1", "sess-9", 2)
    assert not worker.user.has_usable_password()
    membership = Membership.objects.get(user=worker.user)
    assert (membership.project, membership.role, membership.external_id) == (project, "rater", PID)
    assert client.get(rate_url(project)).status_code == 200  # logged in by this session
    # no password: the login page cannot open this account
    assert not Client().login(username=worker.user.username, password="")


def test_the_same_worker_resumes_the_same_account_and_is_never_served_an_item_twice(client, study):
    project, link = study
    client.get(enter_url(link, PROLIFIC_PID=PID))
    rate_one(client, project)
    first_task = Assignment.objects.get(rater__external_worker__worker_id=PID).task_id
    other_browser = Client()
    response = other_browser.get(enter_url(link, PROLIFIC_PID=PID, SESSION_ID="sess-2"))
    assert response.status_code == 302
    assert ExternalWorker.objects.count() == 1
    assert User.objects.filter(username__startswith="ext-").count() == 1
    assert ExternalWorker.objects.get().session_id == "sess-2"
    assert other_browser.get(rate_url(project)).status_code == 200
    tasks = list(Assignment.objects.filter(rater__external_worker__worker_id=PID).values_list("task_id", flat=True))
    assert len(tasks) == 2
    assert first_task in tasks
    assert len(set(tasks)) == 2


@pytest.mark.parametrize("token", ["tampered", "made-up", "other-project"])
def test_a_tampered_or_made_up_link_token_gets_nothing(client, study, make_project, lead, token):
    project, link = study
    good = workforce.entry_link_token(link)
    other = workforce.create_entry_link(project=make_project("other"), created_by=lead)
    value = {
        "tampered": good[:-2] + ("AA" if not good.endswith("AA") else "BB"),
        "made-up": f"{project.pk}-{link.pk + 1}.{good.rsplit('.', 1)[1]}",
        # another project's real signature with this link's ids swapped in
        "other-project": f"{project.pk}-{link.pk}." + workforce.entry_link_token(other).rsplit(".", 1)[1],
    }[token]
    response = client.get(reverse("enrolment-enter", args=[value]) + f"?PROLIFIC_PID={PID}")
    assert response.status_code == 404
    assert b"not valid" in response.content
    assert not ExternalWorker.objects.exists()
    assert "_auth_user_id" not in client.session


def test_a_closed_link_says_the_study_is_closed(client, study):
    _project, link = study
    workforce.revoke_entry_link(link=link)
    response = client.get(enter_url(link, PROLIFIC_PID=PID))
    assert response.status_code == 410
    assert b"closed" in response.content
    assert not ExternalWorker.objects.exists()


@pytest.mark.parametrize("params", [
    {}, {"PROLIFIC_PID": ""}, {"PROLIFIC_PID": "abc"}, {"PROLIFIC_PID": PID.upper()}, {"PROLIFIC_PID": PID + "0"},
    {"PROLIFIC_PID": "<script>alert(1)</script>"}, {"PROLIFIC_PID": "../" + PID[:21]},
    {"workerId": PID},  # the wrong platform's parameter
    {"PROLIFIC_PID": PID, "STUDY_ID": "a b"},
])
def test_a_missing_or_malformed_worker_id_is_refused(client, study, params):
    _project, link = study
    response = client.get(enter_url(link, **params))
    assert response.status_code == 400
    assert b"PROLIFIC_PID" in response.content or b"STUDY_ID" in response.content
    assert not ExternalWorker.objects.exists()
    assert not User.objects.filter(username__startswith="ext-").exists()


def test_per_worker_links_admit_only_the_listed_ids(client, make_project, lead):
    project = make_project("mturk", items=3, overlap=1)
    link = workforce.create_entry_link(project=project, created_by=lead, platform="mturk", per_worker_tokens=True)
    rows = workforce.worker_urls(link=link, worker_ids=["A1B2C3D4E5F6G7", "A1B2C3D4E5F6G7", "AZZZZZZZZZZ9"],
                                 base_url="https://rate.example.org/")
    assert [worker_id for worker_id, _ in rows] == ["A1B2C3D4E5F6G7", "AZZZZZZZZZZ9"]
    url = rows[0][1]
    assert url.startswith("https://rate.example.org/enter/")
    assert "workerId=A1B2C3D4E5F6G7" in url
    path = url.removeprefix("https://rate.example.org")
    assert client.get(path).status_code == 302
    assert ExternalWorker.objects.get().worker_id == "A1B2C3D4E5F6G7"
    # the listed worker's signature does not open the link for another id, nor does no signature
    stranger = Client()
    assert stranger.get(path.replace("A1B2C3D4E5F6G7", "A9B2C3D4E5F6G7")).status_code == 403
    assert stranger.get(enter_url(link, workerId="A9B2C3D4E5F6G7")).status_code == 403
    assert ExternalWorker.objects.count() == 1
    with pytest.raises(workforce.EntryLinkError) as bad:
        workforce.worker_urls(link=link, worker_ids=["A1B2C3D4E5F6G7", "a-lower-case-id"], base_url="http://x/")
    assert "line 2" in bad.value.message_dict["worker_ids"][0]


def test_meeting_the_quota_shows_the_completion_code_and_sends_the_worker_to_the_platform(client, study):
    project, link = study
    client.get(enter_url(link, PROLIFIC_PID=PID))
    complete = reverse("enrolment-complete")
    assert client.get(complete)["Location"] == rate_url(project)  # no code before the work is done
    rate_one(client, project)
    assert client.get(rate_url(project)).status_code == 200
    user = User.objects.get(external_worker__worker_id=PID)
    # the second submit from the page's script: the answer tells it to go to the completion page
    response = client.post(reverse("rate-submit", args=[project.slug, held(user).pk]), FORM,
                           HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json()["status"] == "redirect"
    assert response.json()["redirect"] == complete
    assert client.get(rate_url(project))["Location"] == complete
    page = client.get(complete)
    text = page.content.decode()
    assert page.status_code == 200
    assert "CODE42" in text
    assert 'content="5;url=https://app.prolific.com/submissions/complete?cc=CODE42"' in text
    assert Assignment.objects.filter(rater=user).count() == 2  # no third item was claimed
    # coming back through the link later: still done
    again = Client()
    again.get(enter_url(link, PROLIFIC_PID=PID))
    assert again.get(rate_url(project))["Location"] == complete


def test_when_the_project_runs_out_the_worker_gets_the_completion_page(client, make_project, lead):
    project = make_project("tiny", items=1, overlap=1)
    link = workforce.create_entry_link(project=project, created_by=lead, quota=5, completion_code="DONE1")
    client.get(enter_url(link, PROLIFIC_PID=PID))
    rate_one(client, project)
    response = client.get(rate_url(project))
    assert response.status_code == 302
    assert response["Location"] == reverse("enrolment-complete")
    assert "DONE1" in client.get(reverse("enrolment-complete")).content.decode()
    latecomer = Client()
    latecomer.get(enter_url(link, PROLIFIC_PID=PID2))
    assert latecomer.get(rate_url(project))["Location"] == reverse("enrolment-complete")


def test_a_worker_reaches_only_its_own_projects_rater_pages(client, study, make_project):
    project, link = study
    other = make_project("elsewhere", items=2, raters=("alice",))
    client.get(enter_url(link, PROLIFIC_PID=PID))
    for path in [
        reverse("rate", args=[other.slug]), reverse("project-dashboard", args=[project.slug]),
        reverse("enrolment-access", args=[project.slug]), reverse("report", args=[project.slug]),
        "/admin/", "/accounts/password_change/", "/suites/",
    ]:
        assert client.get(path).status_code == 404, path
    assert client.get("/api/projects/").status_code == 404
    assert client.get(f"/api/projects/{project.pk}/").status_code == 404
    assert client.post("/api/auth/token/", {"username": User.objects.get(external_worker__worker_id=PID).username,
                                            "password": ""}).status_code in (400, 404)
    assert client.get("/")["Location"] == rate_url(project)
    assert client.get(rate_url(project)).status_code == 200


def test_the_external_id_is_in_exports_and_scorecards(study):
    project, link = study
    worker, _ = workforce.enter(link=link, params={"PROLIFIC_PID": PID})
    alice = UserFactory(username="alice")
    Membership.objects.create(project=project, user=alice, role="rater")
    from tests.fixtures import next_assignment

    for user in (worker.user, alice):
        submit_rating(assignment=next_assignment(project=project, rater=user), scores=GOOD)
    rows = list(csv.DictReader(io.StringIO("".join(export_lines(project, "csv")))))
    by_rater = {row["rater"]: row["rater_external_id"] for row in rows}
    assert by_rater == {worker.user.username: PID, "alice": ""}
    records = [json.loads(line) for line in "".join(export_lines(project, "jsonl")).splitlines()]
    assert {r["rater_external_id"] for r in records if r["rater"] == worker.user.username} == {PID}
    compute_quality(project=project)
    cards = {card["rater"]: card["external_id"] for card in snapshot(project).result["raters"]}
    assert cards == {worker.user.username: PID, "alice": ""}


def test_entry_link_settings_are_checked(study, lead):
    project, _link = study
    with pytest.raises(workforce.EntryLinkError) as bad:
        workforce.create_entry_link(project=project, created_by=lead, quota=0, worker_param="has space",
                                    completion_url="javascript:alert(1)", completion_code="no spaces please")
    assert set(bad.value.message_dict) == {"quota", "worker_param", "completion_url", "completion_code"}
    with pytest.raises(workforce.EntryLinkError) as same:
        workforce.create_entry_link(project=project, created_by=lead, worker_param="token")
    assert "worker_param" in same.value.message_dict
    assert EntryLink.objects.count() == 1


def test_lead_api_opens_lists_revokes_links_and_makes_worker_urls(client, study, lead):
    project, link = study
    client.force_login(lead)
    base = f"/api/projects/{project.pk}/entry-links/"
    made = client.post(base, {"platform": "mturk", "quota": 3, "per_worker_tokens": True, "label": "HIT 1"},
                       content_type="application/json")
    assert made.status_code == 201, made.content
    data = made.json()
    assert data["worker_param"] == "workerId"
    assert data["url"].startswith("http://testserver/enter/")
    refused = client.post(base, {"quota": 0}, content_type="application/json")
    assert refused.status_code == 400
    assert "quota" in refused.json()
    urls = client.post(f"{base}{data['id']}/worker-urls/", {"worker_ids": ["A1B2C3D4E5F6G7"]},
                       content_type="application/json")
    assert urls.status_code == 200
    assert urls.json()[0]["worker_id"] == "A1B2C3D4E5F6G7"
    open_to_all = client.post(f"{base}{link.pk}/worker-urls/", {"worker_ids": [PID]}, content_type="application/json")
    assert open_to_all.status_code == 400
    assert [row["id"] for row in client.get(base).json()["results"]] == [data["id"], link.pk]
    closed = client.post(f"{base}{data['id']}/revoke/")
    assert closed.status_code == 200
    assert closed.json()["revoked_at"]
    client.force_login(UserFactory(username="alice"))
    assert client.get(base).status_code == 404  # not a member of this project


def test_lead_page_opens_a_link_and_downloads_worker_urls(client, study, lead):
    project, _link = study
    client.force_login(lead)
    response = client.post(reverse("enrolment-entry-link-create", args=[project.slug]),
                           {"platform": "other", "quota": 4, "per_worker_tokens": "on", "label": "Pilot"})
    assert response.status_code == 302
    link = EntryLink.objects.get(label="Pilot")
    page = client.get(reverse("enrolment-access", args=[project.slug])).content.decode()
    assert workforce.entry_link_token(link) in page
    assert "PROLIFIC_PID={{%PROLIFIC_PID%}}" in page
    download = client.post(reverse("enrolment-entry-link-workers", args=[project.slug, link.pk]),
                           {"worker_ids": "w-1\nw-2\n"})
    assert download.status_code == 200
    assert download["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(download.content.decode())))
    assert rows[0] == ["worker_id", "url"]
    assert [r[0] for r in rows[1:]] == ["w-1", "w-2"]
    bad = client.post(reverse("enrolment-entry-link-workers", args=[project.slug, link.pk]), {"worker_ids": "bad id!"})
    assert bad.status_code == 400
    assert "line 1" in bad.content.decode()


def test_a_project_with_training_sends_the_worker_to_training_and_a_screened_out_worker_to_the_end(
    client, make_project, lead,
):
    from evalplatform.training.importing import import_training_items
    from evalplatform.training.models import TrainingAttempt, TrainingItem
    from evalplatform.training.services import start_attempt, submit_training_answer, update_policy
    from tests.training.conftest import TRAINING, jsonl

    project = make_project("trained", items=3, overlap=1)
    import_training_items(project=project, stream=jsonl(TRAINING), fmt="jsonl")
    update_policy(project=project, training_required=True, pass_mark=0.8, max_attempts=1)
    link = workforce.create_entry_link(project=project, created_by=lead, completion_code="PAID1",
                                       screened_out_code="SCREENED1", completion_url=COMPLETE_URL)
    response = client.get(enter_url(link, PROLIFIC_PID=PID))
    assert response["Location"] == reverse("training", args=[project.slug])
    assert client.get(rate_url(project))["Location"] == reverse("training", args=[project.slug])
    assert client.get(reverse("enrolment-complete"))["Location"] == rate_url(project)  # nothing earned yet
    worker = ExternalWorker.objects.get()
    attempt = start_attempt(project=project, rater=worker.user)
    for item in TrainingItem.objects.filter(project=project).order_by("position"):
        submit_training_answer(attempt=attempt, item=item, scores={"accuracy": 1, "helpfulness": 5, "harmless": 0})
    assert TrainingAttempt.objects.get(rater=worker.user).passed is False  # the one attempt, failed
    assert client.get("/")["Location"] == reverse("enrolment-complete")  # the failed page's "back" link
    page = client.get(reverse("enrolment-complete")).content.decode()
    assert "SCREENED1" in page
    assert "PAID1" not in page
    assert "did not pass" in page
    assert "cc=SCREENED1" in page
