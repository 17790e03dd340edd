"""Storing a quality run's consensus labels: the stored rows are exactly the run's labels, whatever was
stored before (rows are rewritten only where a figure changed, units gone are deleted, new ones added)."""

from __future__ import annotations

import pytest

from evalplatform.bulk import delete_ids, update_rows
from evalplatform.projects.models import Response, Task
from evalplatform.quality import services
from evalplatform.quality.labels import Label
from evalplatform.quality.models import ConsensusLabel
from evalplatform.quality.services import LABEL_FIELDS, store_quality
from rubrics.models import Dimension

pytestmark = pytest.mark.django_db


def by_unit(row: tuple) -> tuple:
    return row[0], row[1] or 0, row[2]


def stored(project) -> list[tuple]:
    return sorted(ConsensusLabel.objects.filter(project=project).values_list(*LABEL_FIELDS), key=by_unit)


def as_rows(labels: list[Label]) -> list[tuple]:
    return sorted(((*label[:5], bool(label.split), *label[6:]) for label in labels), key=by_unit)


@pytest.mark.parametrize("batch", [2000, 2])  # the stored rows read in one batch, or in several
def test_a_second_run_leaves_exactly_its_labels_and_keeps_unchanged_rows(make_project, monkeypatch, batch):
    monkeypatch.setattr(services, "BATCH", batch)
    project = make_project("store", items=4, models=("m1", "m2"))
    other = make_project("other", items=1)
    tasks = list(Task.objects.filter(project=project).order_by("id"))
    response = Response.objects.filter(item__project=project).order_by("id").first()
    accuracy, harmless = (Dimension.objects.get(version=project.rubric_version, key=k) for k in ("accuracy", "harmless"))

    def label(task, dim, resp=None, *, agreement=0.5, split=False, mace=3.0, posterior=0.9):
        return Label(task.pk, resp, dim.pk, 3, agreement, split, 3.0, 3.0, 3.0, 2 / 3, 3.0, 0.8, mace, posterior)

    first = [label(t, accuracy) for t in tasks] + [label(t, harmless, split=True) for t in tasks[:2]]
    first.append(label(tasks[0], accuracy, response.pk))
    kept = Label(*label(tasks[-1], harmless)[:4], None, False, None, None, 1.0, 1.0, None, None, None, None)
    first.append(kept)
    store_quality(project=project, data_seq=1, parameters={}, result={}, labels=first)
    store_quality(project=other, data_seq=1, parameters={}, result={},
                  labels=[label(Task.objects.get(project=other), accuracy)])
    assert stored(project) == as_rows(first)
    ids = set(ConsensusLabel.objects.filter(project=project).values_list("id", flat=True))

    second = [
        label(tasks[0], accuracy, agreement=0.25),  # changed figure
        label(tasks[1], accuracy, posterior=0.9 + 1e-16),  # a last-bit change is a change
        label(tasks[2], accuracy),  # unchanged
        label(tasks[1], harmless, split=False),  # split changed
        label(tasks[0], accuracy, response.pk, mace=None, posterior=None),  # figures become NULL
        kept,  # NULLs unchanged
        label(tasks[3], harmless, response.pk),  # new
    ]  # gone: tasks[3] accuracy, tasks[0] harmless
    store_quality(project=project, data_seq=2, parameters={}, result={}, labels=second)
    assert stored(project) == as_rows(second)
    assert len(stored(other)) == 1  # another project's labels are left alone
    unchanged = ConsensusLabel.objects.get(task=tasks[2], dimension=accuracy)
    assert unchanged.pk in ids  # kept its row

    ids = set(ConsensusLabel.objects.filter(project=project).values_list("id", flat=True))
    again = [*second[:2], label(tasks[2], accuracy, agreement=1.0), *second[3:-1]]  # the last one gone
    store_quality(project=project, data_seq=3, parameters={}, result={}, labels=again)
    assert stored(project) == as_rows(again)
    assert set(ConsensusLabel.objects.filter(project=project).values_list("id", flat=True)) < ids

    store_quality(project=project, data_seq=4, parameters={}, result={}, labels=[])
    assert stored(project) == []
    assert len(stored(other)) == 1


def test_update_and_delete_by_id(make_project):
    project = make_project("bulk", items=3)
    accuracy = Dimension.objects.get(version=project.rubric_version, key="accuracy")
    rows = [ConsensusLabel.objects.create(project=project, task=t, dimension=accuracy, n_ratings=2, agreement=0.5)
            for t in Task.objects.filter(project=project).order_by("id")]
    assert update_rows(ConsensusLabel, ("agreement", "split"), [(rows[0].pk, None, True), (rows[2].pk, 0.75, False)]) == 2
    assert delete_ids(ConsensusLabel, [rows[1].pk]) == 1
    assert delete_ids(ConsensusLabel, []) == 0
    assert list(ConsensusLabel.objects.order_by("id").values_list("agreement", "split", "n_ratings")) == [
        (None, True, 2), (0.75, False, 2)]
    with pytest.raises(ValueError, match="no updatable"):
        update_rows(ConsensusLabel, ("id",), [])


def test_the_same_labels_again_are_not_read_back_and_a_lost_row_is_still_noticed(make_project):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    project = make_project("same", items=3)
    accuracy = Dimension.objects.get(version=project.rubric_version, key="accuracy")
    tasks = list(Task.objects.filter(project=project).order_by("id"))
    labels = [Label(t.pk, None, accuracy.pk, 3, 0.5, False, 3.0, 3.0, 3.0, 2 / 3, 3.0, 0.8, 3.0, 0.9) for t in tasks]
    store_quality(project=project, data_seq=1, parameters={}, result={}, labels=labels)
    table = ConsensusLabel._meta.db_table
    with CaptureQueriesContext(connection) as queries:
        store_quality(project=project, data_seq=2, parameters={}, result={}, labels=list(labels))
    assert not [q for q in queries if table in q["sql"] and "COUNT" not in q["sql"].upper()]  # counted, not read
    assert stored(project) == as_rows(labels)

    ConsensusLabel.objects.filter(task=tasks[1]).delete()  # rows lost behind the store's back (a cascade)
    with CaptureQueriesContext(connection) as queries:
        store_quality(project=project, data_seq=3, parameters={}, result={}, labels=list(labels))
    assert [q for q in queries if q["sql"].startswith('SELECT "id"') and table in q["sql"]]  # read back this time
    assert stored(project) == as_rows(labels)


def test_labels_go_with_their_task_and_response_and_need_their_project(make_project):
    """The labels' task, response and dimension are not foreign keys in the database (derived rows,
    written by the hundred thousand: ``ConsensusLabel``'s docstring), so Django's deletion is what
    removes them with what they are about (a dimension with labels is in a published version, which
    cannot be deleted); the project is still checked by the database."""
    from django.db import IntegrityError, connection, transaction

    from evalplatform.bulk import insert_rows

    project = make_project("derived", items=3, models=("m1", "m2"))
    accuracy = Dimension.objects.get(version=project.rubric_version, key="accuracy")
    tasks = list(Task.objects.filter(project=project).order_by("id"))
    response = tasks[2].response_a
    labels = [Label(t.pk, None, accuracy.pk, 3, 0.5, False, 3.0, 3.0, 3.0, 2 / 3, 3.0, 0.8, 3.0, 0.9) for t in tasks]
    labels.append(Label(tasks[2].pk, response.pk, accuracy.pk, 3, 0.5, False, 3.0, 3.0, 3.0, 2 / 3, 3.0, 0.8, 3.0, 0.9))
    store_quality(project=project, data_seq=1, parameters={}, result={}, labels=labels)
    assert ConsensusLabel.objects.filter(project=project).count() == len(labels) == len(tasks) + 1

    task_id, response_id = tasks[0].pk, response.pk
    tasks[0].delete()
    assert not ConsensusLabel.objects.filter(task_id=task_id).exists()
    response.delete()
    assert not ConsensusLabel.objects.filter(response_id=response_id).exists()
    assert stored(project) == as_rows([labels[1], *labels[3:len(tasks)]])  # tasks[2] went with its response

    missing = project.pk + 1000
    with pytest.raises(IntegrityError, match=r"(?i)foreign key"), transaction.atomic():
        insert_rows(ConsensusLabel, ("project_id", *LABEL_FIELDS), [(missing, *labels[0])])
        connection.check_constraints(table_names=[ConsensusLabel._meta.db_table])
