# Per-response scores on pair tasks (issue 7): Score.response, and one score per (rating, dimension, response).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('projects', '0001_initial'),
        ('ratings', '0001_initial'),
        ('rubrics', '0001_initial'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='score',
            name='score_once_per_rating_and_dimension',
        ),
        migrations.AddField(
            model_name='score',
            name='response',
            field=models.ForeignKey(blank=True, help_text='The response of a pair this score is about (per-response questions of pair tasks).', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='scores', to='projects.response'),
        ),
        migrations.AddConstraint(
            model_name='score',
            constraint=models.UniqueConstraint(condition=models.Q(('response__isnull', True)), fields=('rating', 'dimension'), name='score_once_per_rating_and_dimension'),
        ),
        migrations.AddConstraint(
            model_name='score',
            constraint=models.UniqueConstraint(condition=models.Q(('response__isnull', False)), fields=('rating', 'dimension', 'response'), name='score_once_per_rating_dimension_response'),
        ),
    ]
