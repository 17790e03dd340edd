"""An endpoint's max_tokens is None (no limit) or at least 1, as a table constraint.

The form and admin never refused 0, which asks for an empty completion on every request: such a row
becomes None (the endpoint's own limit) before the constraint is added, so the migration can't fail on it.
"""

import django.core.validators
from django.db import migrations, models


def zero_means_no_limit(apps, schema_editor):
    apps.get_model("llm", "ModelEndpoint").objects.filter(max_tokens=0).update(max_tokens=None)


class Migration(migrations.Migration):

    dependencies = [
        ('llm', '0001_model_endpoints_and_runs'),
    ]

    operations = [
        migrations.RunPython(zero_means_no_limit, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='modelendpoint',
            name='max_tokens',
            field=models.PositiveIntegerField(blank=True, default=512, null=True, validators=[django.core.validators.MinValueValidator(1)]),
        ),
        migrations.AddConstraint(
            model_name='modelendpoint',
            constraint=models.CheckConstraint(condition=models.Q(('max_tokens__isnull', True), ('max_tokens__gte', 1), _connector='OR'), name='endpoint_max_tokens_positive'),
        ),
    ]
