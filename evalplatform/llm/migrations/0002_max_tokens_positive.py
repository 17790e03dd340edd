"""An endpoint's max_tokens is None (no limit) or at least 1, as a table constraint.

The admin never refused 0, which asks for an empty completion on every request.  Such a row gets the
field's default, 512, before the constraint is added (so the migration can't fail on it): a capped
endpoint stays capped, where None would send no limit at all.
"""

import django.core.validators
from django.db import migrations, models


def zero_becomes_the_default(apps, schema_editor):
    apps.get_model("llm", "ModelEndpoint").objects.filter(max_tokens=0).update(max_tokens=512)


class Migration(migrations.Migration):

    dependencies = [
        ('llm', '0001_model_endpoints_and_runs'),
    ]

    operations = [
        migrations.RunPython(zero_becomes_the_default, migrations.RunPython.noop),
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
