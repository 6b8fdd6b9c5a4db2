"""A billing run's chunks as rows: a redelivered chunk counts once, and the reaper can send again the
chunks of a run whose worker died or whose sending failed."""

import django.contrib.postgres.fields
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0007_frozen_documents_and_credits_once"),
    ]

    operations = [
        migrations.CreateModel(
            name="BillingRunChunk",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("position", models.PositiveIntegerField()),
                ("customer_ids", django.contrib.postgres.fields.ArrayField(base_field=models.BigIntegerField(),
                                                                           size=None)),
                ("sent_at", models.DateTimeField(help_text="When its task was last sent to the workers.")),
                ("sends", models.PositiveIntegerField(default=1)),
                ("done_at", models.DateTimeField(blank=True, null=True)),
                ("run", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="chunks",
                                          to="billing.billingrun")),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("run", "position"),
                                                        name="one_chunk_per_run_position")],
            },
        ),
    ]
