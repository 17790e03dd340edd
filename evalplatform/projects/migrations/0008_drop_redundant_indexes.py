"""Drop single-column foreign-key indexes that a unique constraint already starts with, or
that index a column null on almost every row (then a partial index holds the rest).

Done as SQL by name inside ``SeparateDatabaseAndState``, not as ``AlterField(db_index=False)``: on
PostgreSQL that operation drops every one-column index on the field, and on ``task.response_a`` it took
the partial unique index ``task_single_response_unique`` with it (a constraint, not the field's index);
on SQLite it rebuilds each table.  Here exactly the named index goes, on both databases, in a moment.
"""

import django.db.models.deletion
from django.db import migrations, models


DROPPED = [
    ("projects_item_project_id_705d7a28", "projects_item", "project_id"),
    ("projects_response_item_id_959d300c", "projects_response", "item_id"),
    ("projects_task_response_a_id_776b4b06", "projects_task", "response_a_id"),
    ("projects_task_response_b_id_0c4f6086", "projects_task", "response_b_id"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0007_external_workforce"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="item",
                    name="project",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="items",
                        to="projects.project",
                    ),
                ),
                migrations.AlterField(
                    model_name="response",
                    name="item",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="responses",
                        to="projects.item",
                    ),
                ),
                migrations.AlterField(
                    model_name="task",
                    name="response_a",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="projects.response",
                    ),
                ),
                migrations.AlterField(
                    model_name="task",
                    name="response_b",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="projects.response",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    [f'DROP INDEX IF EXISTS "{name}"' for name, _, _ in DROPPED],
                    reverse_sql=[
                        f'CREATE INDEX "{name}" ON "{table}" ("{column}")' for name, table, column in DROPPED
                    ],
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(
                condition=models.Q(("response_b__isnull", False)),
                fields=["response_b"],
                name="task_pair_second",
            ),
        ),
    ]
