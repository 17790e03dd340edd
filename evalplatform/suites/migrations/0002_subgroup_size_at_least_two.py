"""A suite's min_subgroup_items is at least 2, as a table constraint (the service always refused less;
a row written around it is raised to 2 first, so the migration can't fail on it)."""

from django.conf import settings
from django.db import migrations, models


def at_least_two(apps, schema_editor):
    apps.get_model("suites", "Suite").objects.filter(min_subgroup_items__lt=2).update(min_subgroup_items=2)


class Migration(migrations.Migration):

    dependencies = [
        ('suites', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(at_least_two, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='suite',
            constraint=models.CheckConstraint(condition=models.Q(('min_subgroup_items__gte', 2)), name='suite_subgroup_at_least_two_items'),
        ),
    ]
