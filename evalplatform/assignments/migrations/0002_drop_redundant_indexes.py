"""Drop single-column foreign-key indexes that a composite index or unique constraint already
starts with (an import writes one assignment per rating).

By name, as SQL, for the reason given in ``projects`` 0008 (``AlterField`` would drop any one-column
index of the field on PostgreSQL and rebuild the table on SQLite).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


DROPPED = [
    ("assignments_assignment_project_id_868526f1", "assignments_assignment", "project_id"),
    ("assignments_assignment_rater_id_3b279d10", "assignments_assignment", "rater_id"),
    ("assignments_assignment_task_id_d40cd06d", "assignments_assignment", "task_id"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("assignments", "0001_initial"),
        ("projects", "0008_drop_redundant_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="assignment",
                    name="project",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="assignments",
                        to="projects.project",
                    ),
                ),
                migrations.AlterField(
                    model_name="assignment",
                    name="rater",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="assignments",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="assignment",
                    name="task",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="assignments",
                        to="projects.task",
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
    ]
