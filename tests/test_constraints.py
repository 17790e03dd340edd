"""The database itself refuses what breaks an invariant, whatever code path writes it."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from evalplatform.assignments.models import Assignment
from evalplatform.llm.models import ModelEndpoint
from evalplatform.projects.models import Item, Membership, Project, Response, Task
from evalplatform.ratings.models import Rating, Score
from evalplatform.suites.models import Suite
from rubrics.models import Dimension
from tests.fixtures import UserFactory

pytestmark = pytest.mark.django_db


def refused(fn):
    with pytest.raises(IntegrityError), transaction.atomic():
        fn()


def test_task_claims_never_exceed_capacity(project):
    task = Task.objects.filter(project=project).first()
    refused(lambda: Task.objects.filter(pk=task.pk).update(claimed_count=F("capacity") + 1))
    refused(lambda: Task.objects.filter(pk=task.pk).update(rated_count=1))  # rated > claimed


def test_one_assignment_and_one_rating_per_task_and_rater(project):
    task = Task.objects.filter(project=project).first()
    rater = UserFactory(username="zed")
    now = timezone.now()

    def assign():
        return Assignment.objects.create(project=project, task=task, rater=rater, leased_at=now,
                                         lease_expires_at=now + timedelta(minutes=5))

    assign()
    refused(assign)

    def rate():
        return Rating.objects.create(project=project, task=task, rater=rater, rubric_version=project.rubric_version)

    rating = rate()
    refused(rate)
    dim = Dimension.objects.get(version=project.rubric_version, key="accuracy")
    Score.objects.create(rating=rating, dimension=dim, value=3)
    refused(lambda: Score.objects.create(rating=rating, dimension=dim, value=4))
    refused(lambda: Score.objects.create(rating=rating, dimension=dim.version.dimensions.get(key="why")))
    # a per-response question: one score per response, beside the one about the whole task
    other = Task.objects.filter(project=project).exclude(pk=task.pk).first()
    Score.objects.create(rating=rating, dimension=dim, value=2, response=task.response_a)
    Score.objects.create(rating=rating, dimension=dim, value=5, response=other.response_a)
    refused(lambda: Score.objects.create(rating=rating, dimension=dim, value=1, response=task.response_a))
    assert Score.objects.filter(rating=rating, dimension=dim).count() == 3


def test_project_settings_ranges(project):
    refused(lambda: Project.objects.filter(pk=project.pk).update(overlap=0))
    refused(lambda: Project.objects.filter(pk=project.pk).update(lease_seconds=5))


def test_items_responses_memberships_are_unique(project):
    item = Item.objects.filter(project=project).first()
    refused(lambda: Item.objects.create(project=project, external_id=item.external_id, prompt="x"))
    refused(lambda: Response.objects.create(item=item, model="m1", text="again"))
    refused(lambda: Membership.objects.create(project=project, user=project.created_by, role="rater"))
    refused(lambda: Item.objects.create(project=project, external_id="", prompt="x"))


def test_a_pair_task_is_two_different_responses(project):
    resp = Response.objects.filter(item__project=project).first()
    refused(lambda: Task.objects.create(project=project, item=resp.item, response_a=resp, response_b=resp, capacity=3))
    refused(lambda: Task.objects.create(project=project, item=resp.item, response_a=resp, capacity=3))  # duplicate single


def test_assignment_status_and_finish_time_agree(project):
    task = Task.objects.filter(project=project).first()
    now = timezone.now()
    refused(lambda: Assignment.objects.create(project=project, task=task, rater=project.created_by, status="submitted",
                                              leased_at=now, lease_expires_at=now))
    refused(lambda: Assignment.objects.create(project=project, task=task, rater=project.created_by,
                                              leased_at=now, lease_expires_at=now - timedelta(seconds=1)))


def test_suite_subgroups_and_endpoint_token_limits_are_table_rules(db):
    """Written around the services (an update, the admin), a subgroup of fewer than 2 items or a
    max_tokens of 0 is refused by the table itself; None (no limit) and 1 are fine."""
    suite = Suite.objects.create(slug="s", name="S")
    refused(lambda: Suite.objects.filter(pk=suite.pk).update(min_subgroup_items=1))
    Suite.objects.filter(pk=suite.pk).update(min_subgroup_items=2)
    endpoint = ModelEndpoint.objects.create(name="e", base_url="http://127.0.0.1:9/v1", model="m")
    refused(lambda: ModelEndpoint.objects.filter(pk=endpoint.pk).update(max_tokens=0))
    ModelEndpoint.objects.filter(pk=endpoint.pk).update(max_tokens=None)
    ModelEndpoint.objects.filter(pk=endpoint.pk).update(max_tokens=1)
    assert ModelEndpoint.objects.get(pk=endpoint.pk).max_tokens == 1
    # The admin's form says why before the table refuses it.
    with pytest.raises(ValidationError) as refusal:
        ModelEndpoint(name="f", base_url="http://127.0.0.1:9/v1", model="m", max_tokens=0).full_clean()
    assert list(refusal.value.message_dict) == ["max_tokens"]


def test_automated_raters_cannot_be_active(db):
    refused(lambda: UserFactory(username="judge:auto", is_automated=True, is_active=True))


@pytest.mark.postgres
def test_constraints_are_enforced_by_postgresql_itself(project):
    """On PostgreSQL the checks are real table constraints (not only Django validation)."""
    assert connection.vendor == "postgresql"
    with connection.cursor() as cur:
        cur.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'projects_task'::regclass AND contype = 'c'"
        )
        names = {row[0] for row in cur.fetchall()}
    assert {"task_claims_within_capacity", "task_rated_within_claimed", "task_pair_is_two_responses"} <= names
    task = Task.objects.filter(project=project).first()
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cur:
        cur.execute("UPDATE projects_task SET claimed_count = capacity + 1 WHERE id = %s", [task.pk])


def test_the_import_tables_carry_no_redundant_single_column_index():
    """Each index is written on every insert: the one-column foreign-key indexes that a composite index
    or unique constraint already starts with are gone (migrations 0008/0002/0005), and the unique
    constraints that share their columns are still there (PostgreSQL's AlterField once took one along)."""
    with connection.cursor() as cursor:
        found = {
            table: connection.introspection.get_constraints(cursor, table)
            for table in ("projects_item", "projects_response", "projects_task", "assignments_assignment",
                          "ratings_rating", "ratings_score", "quality_consensuslabel")
        }
    single = {(table, tuple(c["columns"])) for table, constraints in found.items() for c in constraints.values()
              if c["index"] and not c["unique"] and not c["primary_key"] and len(c["columns"]) == 1}
    # Kept: a task's item and project (the queue's indexes are partial), a person's ratings in every
    # project, a label's dimension; and four partial ones, holding only the rows that have a value.  A
    # rating's scores are found by score_once_per_answer, a task's labels by consensus_once_per_unit,
    # a project's by consensus_project_task: each starts with that column.
    assert single <= {("projects_task", ("item_id",)), ("projects_task", ("project_id",)),
                      ("ratings_rating", ("rater_id",)),
                      ("projects_task", ("response_b_id",)), ("ratings_rating", ("exclusion_id",)),
                      ("ratings_score", ("response_id",)), ("quality_consensuslabel", ("dimension_id",)),
                      ("quality_consensuslabel", ("response_id",))}, single
    assert "task_single_response_unique" in found["projects_task"]
    assert "score_once_per_answer" in found["ratings_score"]
    assert "consensus_once_per_unit" in found["quality_consensuslabel"]
