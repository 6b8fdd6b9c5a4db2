"""An invoice line references its outcome event by (organization_id, outcome_event_id), the event table's
key since outcomes 0006: a line and its event are of one organization by the key itself.

The credited-once check (billing 0007) locks the outcome events being credited; it now names their
organizations, so the lock is an index scan of the event table's key, not a scan of the table."""

from importlib import import_module

from django.db import migrations

FK = """
ALTER TABLE billing_invoiceline ADD CONSTRAINT billing_invoiceline_outcome_event_fk
  FOREIGN KEY (organization_id, outcome_event_id) REFERENCES outcomes_outcomeevent (organization_id, id)
  DEFERRABLE INITIALLY DEFERRED;
"""

FK_BACKWARD = "ALTER TABLE billing_invoiceline DROP CONSTRAINT billing_invoiceline_outcome_event_fk;"

# The body of billing 0007's check, with the organizations of the credits added to the lock.
CHECK = r"""
CREATE FUNCTION billing_credited_once_check(organization_ids bigint[], event_ids bigint[], line_ids bigint[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE twice text;
BEGIN
  -- Lock first, in one order: a concurrent credit of the same outcome waits for this one's commit and
  -- then sees it (each statement below takes a fresh snapshot under READ COMMITTED).
  PERFORM 1 FROM outcomes_outcomeevent
   WHERE organization_id = ANY(organization_ids) AND id = ANY(event_ids) ORDER BY id FOR UPDATE;
  PERFORM 1 FROM billing_invoiceline WHERE id = ANY(line_ids) ORDER BY id FOR KEY SHARE;
  WITH standing AS (
    SELECT n.outcome_event_id AS event_id, n.invoice_line_id AS line_id FROM billing_creditnoteline n
     WHERE n.outcome_event_id = ANY(event_ids) OR n.invoice_line_id = ANY(line_ids)
    UNION ALL
    SELECT l.outcome_event_id, l.credited_line_id FROM billing_invoiceline l
      JOIN billing_invoice i ON i.id = l.invoice_id
     WHERE l.kind = 'credit' AND i.status IN ('finalized', 'paid')
       AND (l.outcome_event_id = ANY(event_ids) OR l.credited_line_id = ANY(line_ids))
  )
  SELECT coalesce(
    (SELECT 'outcome event ' || event_id FROM standing WHERE event_id = ANY(event_ids)
      GROUP BY event_id HAVING count(*) > 1 LIMIT 1),
    (SELECT 'invoice line ' || line_id FROM standing WHERE line_id = ANY(line_ids)
      GROUP BY line_id HAVING count(*) > 1 LIMIT 1)) INTO twice;
  IF twice IS NOT NULL THEN
    RAISE EXCEPTION '% is credited twice', twice USING ERRCODE = 'unique_violation';
  END IF;
END $$;

CREATE OR REPLACE FUNCTION billing_creditnoteline_credited_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM billing_credited_once_check(
    ARRAY(SELECT DISTINCT c.organization_id FROM billing_creditnote c
           WHERE c.id IN (SELECT credit_note_id FROM new_rows)),
    ARRAY(SELECT outcome_event_id FROM new_rows WHERE outcome_event_id IS NOT NULL),
    ARRAY(SELECT invoice_line_id FROM new_rows WHERE invoice_line_id IS NOT NULL));
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION billing_invoice_credited_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM billing_credited_once_check(
    ARRAY[NEW.organization_id],
    ARRAY(SELECT outcome_event_id FROM billing_invoiceline
           WHERE invoice_id = NEW.id AND kind = 'credit' AND outcome_event_id IS NOT NULL),
    ARRAY(SELECT credited_line_id FROM billing_invoiceline
           WHERE invoice_id = NEW.id AND kind = 'credit' AND credited_line_id IS NOT NULL));
  RETURN NULL;
END $$;

DROP FUNCTION billing_credited_once_check(bigint[], bigint[]);
"""


def _check_backward() -> str:
    """Billing 0007's check and trigger functions, as they were."""
    earlier = import_module("billing.migrations.0007_frozen_documents_and_credits_once").SQL
    check_and_note_lines = earlier[earlier.index("CREATE FUNCTION billing_credited_once_check"):
                                   earlier.index("CREATE TRIGGER billing_creditnoteline_credited_once")]
    invoices = earlier[earlier.index("CREATE FUNCTION billing_invoice_credited_once"):
                       earlier.index("CREATE TRIGGER billing_invoice_credited_once")]
    return ((check_and_note_lines + invoices).replace("CREATE FUNCTION billing_creditnoteline_credited_once",
                                                      "CREATE OR REPLACE FUNCTION billing_creditnoteline_credited_once")
            .replace("CREATE FUNCTION billing_invoice_credited_once",
                     "CREATE OR REPLACE FUNCTION billing_invoice_credited_once")
            + "DROP FUNCTION billing_credited_once_check(bigint[], bigint[], bigint[]);\n")


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0013_outcome_event_keys_unconstrained"),
        ("outcomes", "0006_outcome_event_organization_keys"),
    ]

    operations = [
        migrations.RunSQL(FK, FK_BACKWARD),
        migrations.RunSQL(CHECK, _check_backward()),
    ]
