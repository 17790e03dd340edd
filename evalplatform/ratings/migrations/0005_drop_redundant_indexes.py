"""Drop single-column foreign-key indexes that a composite index or unique constraint already
starts with, that nothing reads by, or that index a column null on almost every row (then a partial
index holds the rest); and score_dimension_rating, which nothing reads by (scores are read by rating).

By name, as SQL, for the reason given in ``projects`` 0008 (``AlterField`` would drop any one-column
index of the field on PostgreSQL and rebuild the table on SQLite).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


DROPPED = [
    ("ratings_rating_project_id_c496056b", "ratings_rating", "project_id"),
    ("ratings_rating_task_id_a0d3743c", "ratings_rating", "task_id"),
    ("ratings_rating_rubric_version_id_e19f850e", "ratings_rating", "rubric_version_id"),
    ("ratings_rating_exclusion_id_5121bfcb", "ratings_rating", "exclusion_id"),
    ("ratings_score_dimension_id_63bec871", "ratings_score", "dimension_id"),
    ("ratings_score_response_id_57e91374", "ratings_score", "response_id"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("assignments", "0002_drop_redundant_indexes"),
        ("projects", "0008_drop_redundant_indexes"),
        ("ratings", "0004_rater_exclusions"),
        ("rubrics", "0002_dimension_composite_weight"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="rating",
                    name="exclusion",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="ratings",
                        to="ratings.raterexclusion",
                    ),
                ),
                migrations.AlterField(
                    model_name="rating",
                    name="project",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="ratings",
                        to="projects.project",
                    ),
                ),
                migrations.AlterField(
                    model_name="rating",
                    name="rubric_version",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="ratings",
                        to="rubrics.rubricversion",
                    ),
                ),
                migrations.AlterField(
                    model_name="rating",
                    name="task",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="ratings",
                        to="projects.task",
                    ),
                ),
                migrations.AlterField(
                    model_name="score",
                    name="dimension",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="scores",
                        to="rubrics.dimension",
                    ),
                ),
                migrations.AlterField(
                    model_name="score",
                    name="response",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        help_text="The response of a pair this score is about (per-response questions of pair tasks).",
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="scores",
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
        migrations.RemoveIndex(
            model_name="score",
            name="score_dimension_rating",
        ),
        migrations.AddIndex(
            model_name="rating",
            index=models.Index(
                condition=models.Q(("exclusion__isnull", False)), fields=["exclusion"], name="rating_excluded"
            ),
        ),
        migrations.AddIndex(
            model_name="score",
            index=models.Index(
                condition=models.Q(("response__isnull", False)), fields=["response"], name="score_of_response"
            ),
        ),
    ]
