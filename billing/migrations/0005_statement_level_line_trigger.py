"""The frozen-lines guard, per statement instead of per row: one check over the transition table
of a whole COPY or DELETE rather than a look-up of the invoice for every line (a million-line run
writes lines ~30% faster; measured by bench/reconcile.py). The guarantee is unchanged: no line of
a non-draft invoice can be inserted, updated or deleted."""

from django.db import migrations

SQL = """
DROP TRIGGER IF EXISTS billing_invoiceline_frozen ON billing_invoiceline;
DROP FUNCTION IF EXISTS billing_invoiceline_frozen();

CREATE FUNCTION billing_invoiceline_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE frozen bigint;
BEGIN
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    SELECT i.id INTO frozen FROM billing_invoice i
     WHERE i.status <> 'draft' AND i.id IN (SELECT DISTINCT invoice_id FROM new_lines) LIMIT 1;
  END IF;
  IF frozen IS NULL AND TG_OP IN ('UPDATE', 'DELETE') THEN
    SELECT i.id INTO frozen FROM billing_invoice i
     WHERE i.status <> 'draft' AND i.id IN (SELECT DISTINCT invoice_id FROM old_lines) LIMIT 1;
  END IF;
  IF frozen IS NOT NULL THEN
    RAISE EXCEPTION 'lines of invoice % are frozen', frozen USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER billing_invoiceline_frozen_insert AFTER INSERT ON billing_invoiceline
  REFERENCING NEW TABLE AS new_lines FOR EACH STATEMENT EXECUTE FUNCTION billing_invoiceline_frozen();
CREATE TRIGGER billing_invoiceline_frozen_update AFTER UPDATE ON billing_invoiceline
  REFERENCING OLD TABLE AS old_lines NEW TABLE AS new_lines FOR EACH STATEMENT
  EXECUTE FUNCTION billing_invoiceline_frozen();
CREATE TRIGGER billing_invoiceline_frozen_delete AFTER DELETE ON billing_invoiceline
  REFERENCING OLD TABLE AS old_lines FOR EACH STATEMENT EXECUTE FUNCTION billing_invoiceline_frozen();
"""

REVERSE = """
DROP TRIGGER IF EXISTS billing_invoiceline_frozen_insert ON billing_invoiceline;
DROP TRIGGER IF EXISTS billing_invoiceline_frozen_update ON billing_invoiceline;
DROP TRIGGER IF EXISTS billing_invoiceline_frozen_delete ON billing_invoiceline;
DROP FUNCTION IF EXISTS billing_invoiceline_frozen();
"""


class Migration(migrations.Migration):
    dependencies = [("billing", "0004_lean_line_indexes")]

    operations = [migrations.RunSQL(SQL, REVERSE)]
