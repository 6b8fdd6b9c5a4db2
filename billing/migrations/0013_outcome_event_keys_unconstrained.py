"""Billing's foreign keys to outcome events lose their single-column constraints, before outcomes 0006
changes the event table's primary key to (organization_id, id) (the constraints depend on the old key).

Billing 0014 puts the invoice lines' back as a composite key. Credit note lines have no organization_id
to reference the new key by: theirs stays unconstrained in the database (the event is taken from the
credited invoice line, whose key is composite)."""

import django.db.models.deletion
from django.db import migrations, models

import outcomes.fields


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0012_invoice_line_totals"),
        ("outcomes", "0005_not_standing_index"),
    ]

    operations = [
        migrations.AlterField(
            model_name="creditnoteline",
            name="outcome_event",
            field=models.ForeignKey(blank=True, db_constraint=False, null=True,
                                    on_delete=django.db.models.deletion.PROTECT, to="outcomes.outcomeevent"),
        ),
        migrations.AlterField(
            model_name="invoiceline",
            name="outcome_event",
            field=outcomes.fields.SameOrganizationForeignKey(blank=True, db_constraint=False, null=True,
                                    on_delete=django.db.models.deletion.PROTECT, to="outcomes.outcomeevent"),
        ),
    ]
