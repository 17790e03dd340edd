from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0003_tracking_settings"),
    ]

    operations = [
        migrations.AddField(
            model_name="trackingrun",
            name="url",
            field=models.CharField(blank=True, max_length=500),
        ),
    ]
