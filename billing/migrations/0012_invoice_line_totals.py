"""Invoice totals kept as lines are written: InvoiceLineGroup (the summary's groups) and InvoiceTaskTotal
(the tasks of the outcome lines and their cost), by one statement trigger with transition tables on
billing_invoiceline, like the frozen-lines guard of 0005.

A reconciliation deletes a draft's lines and writes them again with one COPY: the DELETE drops the
invoice's totals (all of its lines went) and the COPY sums the new lines from its transition table, so
the lines are read once, as they are written. Any other change (a partial delete, an update, an insert
beside existing lines) sums the touched invoices again from their lines. Existing lines are summed here.
"""

import django.db.models.deletion
from django.db import migrations, models


SQL = """
CREATE FUNCTION billing_invoiceline_totals_sum(invoices bigint[]) RETURNS void LANGUAGE sql AS $$
  DELETE FROM billing_invoicelinegroup WHERE invoice_id = ANY(invoices);
  DELETE FROM billing_invoicetasktotal WHERE invoice_id = ANY(invoices);
  INSERT INTO billing_invoicelinegroup (organization_id, invoice_id, kind, service_period_start, outcome_type_id,
                                        meter_id, tier, unit_price, line_count, quantity, amount, first_position,
                                        last_position, description)
  SELECT organization_id, invoice_id, kind, service_period_start, outcome_type_id, meter_id,
         CASE WHEN note LIKE 'package %' THEN 'package' ELSE note END, unit_price,
         count(*), sum(quantity), sum(amount), min(position), max(position), min(description)
    FROM billing_invoiceline WHERE invoice_id = ANY(invoices)
   GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
  INSERT INTO billing_invoicetasktotal (organization_id, invoice_id, service_period_start, cost_currency, tasks, cost)
  SELECT organization_id, invoice_id, service_period_start, cost_currency, count(*), sum(task_cost)
    FROM (SELECT organization_id, invoice_id, service_period_start, cost_currency, task_id,
                 coalesce(max(cost), 0) AS task_cost
            FROM billing_invoiceline
           WHERE invoice_id = ANY(invoices) AND kind = 'outcome' AND task_id IS NOT NULL
           GROUP BY 1, 2, 3, 4, 5) per_task
   GROUP BY 1, 2, 3, 4;
$$;

CREATE FUNCTION billing_invoiceline_totals() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  touched bigint[];
  stale bigint[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(DISTINCT invoice_id) INTO touched FROM new_lines;
    IF NOT EXISTS (SELECT 1 FROM billing_invoicelinegroup WHERE invoice_id = ANY(touched)) THEN
      -- The invoices had no lines: their totals are the new lines' (the COPY of a reconciliation).
      INSERT INTO billing_invoicelinegroup (organization_id, invoice_id, kind, service_period_start,
                                            outcome_type_id, meter_id, tier, unit_price, line_count, quantity,
                                            amount, first_position, last_position, description)
      SELECT organization_id, invoice_id, kind, service_period_start, outcome_type_id, meter_id,
             CASE WHEN note LIKE 'package %' THEN 'package' ELSE note END, unit_price,
             count(*), sum(quantity), sum(amount), min(position), max(position), min(description)
        FROM new_lines GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
      INSERT INTO billing_invoicetasktotal (organization_id, invoice_id, service_period_start, cost_currency,
                                            tasks, cost)
      SELECT organization_id, invoice_id, service_period_start, cost_currency, count(*), sum(task_cost)
        FROM (SELECT organization_id, invoice_id, service_period_start, cost_currency, task_id,
                     coalesce(max(cost), 0) AS task_cost
                FROM new_lines WHERE kind = 'outcome' AND task_id IS NOT NULL
               GROUP BY 1, 2, 3, 4, 5) per_task
       GROUP BY 1, 2, 3, 4;
      RETURN NULL;
    END IF;
    stale := touched;
  ELSIF TG_OP = 'DELETE' THEN
    -- Invoices that lost all their lines lose their totals; the others are summed again.
    SELECT array_agg(gone.invoice_id) INTO stale
      FROM (SELECT invoice_id, count(*) AS lines FROM old_lines GROUP BY 1) gone
     WHERE gone.lines < (SELECT coalesce(sum(g.line_count), 0) FROM billing_invoicelinegroup g
                          WHERE g.invoice_id = gone.invoice_id);
    SELECT array_agg(DISTINCT invoice_id) INTO touched FROM old_lines;
    DELETE FROM billing_invoicelinegroup WHERE invoice_id = ANY(touched);
    DELETE FROM billing_invoicetasktotal WHERE invoice_id = ANY(touched);
  ELSE
    SELECT array_agg(DISTINCT invoice_id) INTO stale
      FROM (SELECT invoice_id FROM old_lines UNION SELECT invoice_id FROM new_lines) changed;
  END IF;
  IF stale IS NOT NULL THEN
    PERFORM billing_invoiceline_totals_sum(stale);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER billing_invoiceline_totals_insert AFTER INSERT ON billing_invoiceline
  REFERENCING NEW TABLE AS new_lines FOR EACH STATEMENT EXECUTE FUNCTION billing_invoiceline_totals();
CREATE TRIGGER billing_invoiceline_totals_update AFTER UPDATE ON billing_invoiceline
  REFERENCING OLD TABLE AS old_lines NEW TABLE AS new_lines FOR EACH STATEMENT
  EXECUTE FUNCTION billing_invoiceline_totals();
CREATE TRIGGER billing_invoiceline_totals_delete AFTER DELETE ON billing_invoiceline
  REFERENCING OLD TABLE AS old_lines FOR EACH STATEMENT EXECUTE FUNCTION billing_invoiceline_totals();

SELECT billing_invoiceline_totals_sum(array_agg(id)) FROM billing_invoice;
"""

REVERSE = """
DROP TRIGGER IF EXISTS billing_invoiceline_totals_insert ON billing_invoiceline;
DROP TRIGGER IF EXISTS billing_invoiceline_totals_update ON billing_invoiceline;
DROP TRIGGER IF EXISTS billing_invoiceline_totals_delete ON billing_invoiceline;
DROP FUNCTION IF EXISTS billing_invoiceline_totals();
DROP FUNCTION IF EXISTS billing_invoiceline_totals_sum(bigint[]);
"""


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0005_billing_details'),
        ('billing', '0011_assumed_price_factor'),
        ('metering', '0008_usage_retention'),
        ('outcomes', '0004_verification_evidence'),
    ]

    operations = [
        migrations.CreateModel(
            name='InvoiceLineGroup',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('outcome', 'Outcome'), ('platform_fee', 'Platform fee'), ('minimum_commit', 'Minimum commit'), ('usage_overage', 'Usage overage'), ('credit', 'Credit'), ('prepaid_credit', 'Prepaid credit')], max_length=20)),
                ('service_period_start', models.DateField()),
                ('tier', models.CharField(help_text='The lines\' note, "package" for every package.', max_length=60)),
                ('unit_price', models.DecimalField(decimal_places=6, max_digits=20)),
                ('line_count', models.BigIntegerField()),
                ('quantity', models.DecimalField(decimal_places=6, max_digits=38)),
                ('amount', models.DecimalField(decimal_places=6, max_digits=38)),
                ('first_position', models.PositiveIntegerField()),
                ('last_position', models.PositiveIntegerField()),
                ('description', models.CharField(help_text="The least of the lines' descriptions.", max_length=300)),
                ('invoice', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='line_groups', to='billing.invoice')),
                ('meter', models.ForeignKey(db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, to='metering.meter')),
                ('organization', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, to='accounts.organization')),
                ('outcome_type', models.ForeignKey(db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, to='outcomes.outcometype')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('invoice', 'kind', 'service_period_start', 'outcome_type', 'meter', 'tier', 'unit_price'), name='invoice_line_group_unique', nulls_distinct=False)],
            },
        ),
        migrations.CreateModel(
            name='InvoiceTaskTotal',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('service_period_start', models.DateField()),
                ('cost_currency', models.CharField(blank=True, max_length=3)),
                ('tasks', models.BigIntegerField()),
                ('cost', models.DecimalField(decimal_places=12, max_digits=40)),
                ('invoice', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='task_totals', to='billing.invoice')),
                ('organization', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, to='accounts.organization')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('invoice', 'service_period_start', 'cost_currency'), name='invoice_task_total_unique')],
            },
        ),
        migrations.RunSQL(SQL, REVERSE),
    ]
