"""Finalized still means frozen, but a finalized invoice can be paid over time: its payment columns
(amount_paid, payment_url, and paid_at with the move to paid) may change while it is finalized, and
nothing else. Its tax rows are frozen like its lines; payments are an append-only ledger.

- billing_invoice: 0007's guard with `amount_paid` and `payment_url` added to the columns that may
  move, and only while the invoice is finalized (a paid or void invoice keeps them too).
- billing_invoicetax: no INSERT, UPDATE or DELETE once its invoice is not a draft (a statement-level
  check over the transition tables, as for lines in 0005); no TRUNCATE.
- billing_invoicepayment: no UPDATE, no DELETE, no TRUNCATE (a correction is a new row).
"""

from django.db import migrations

SQL = r"""
CREATE OR REPLACE FUNCTION billing_invoice_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  kept CONSTANT text[] := ARRAY['status', 'paid_at', 'voided_at', 'updated_at', 'amount_paid', 'payment_url'];
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.status <> 'draft' THEN
      RAISE EXCEPTION 'invoice % is % and cannot be deleted', OLD.id, OLD.status USING ERRCODE = 'check_violation';
    END IF;
    RETURN OLD;
  END IF;
  IF TG_OP = 'INSERT' THEN
    IF NEW.status <> 'draft' THEN
      RAISE EXCEPTION 'an invoice starts as a draft, not %', NEW.status USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
  END IF;
  IF NEW.status IS DISTINCT FROM OLD.status AND (OLD.status, NEW.status) NOT IN (
      ('draft', 'finalized'), ('finalized', 'paid'), ('finalized', 'void')) THEN
    RAISE EXCEPTION 'invoice % cannot go from % to %', OLD.id, OLD.status, NEW.status
      USING ERRCODE = 'check_violation';
  END IF;
  IF OLD.status = 'draft' THEN
    RETURN NEW;
  END IF;
  -- Every column but the status, its timestamps and the payment columns, including columns added later.
  IF (to_jsonb(NEW) - kept) IS DISTINCT FROM (to_jsonb(OLD) - kept)
      OR (NEW.paid_at IS DISTINCT FROM OLD.paid_at AND NOT (OLD.status = 'finalized' AND NEW.status = 'paid'))
      OR (NEW.voided_at IS DISTINCT FROM OLD.voided_at AND NOT (OLD.status = 'finalized' AND NEW.status = 'void'))
      OR ((NEW.amount_paid IS DISTINCT FROM OLD.amount_paid OR NEW.payment_url IS DISTINCT FROM OLD.payment_url)
          AND NOT (OLD.status = 'finalized' AND NEW.status IN ('finalized', 'paid')))
  THEN
    RAISE EXCEPTION 'invoice % is % and frozen', OLD.id, OLD.status USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;

CREATE FUNCTION billing_invoicetax_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE frozen bigint;
BEGIN
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    SELECT i.id INTO frozen FROM billing_invoice i
     WHERE i.status <> 'draft' AND i.id IN (SELECT DISTINCT invoice_id FROM new_rows) LIMIT 1;
  END IF;
  IF frozen IS NULL AND TG_OP IN ('UPDATE', 'DELETE') THEN
    SELECT i.id INTO frozen FROM billing_invoice i
     WHERE i.status <> 'draft' AND i.id IN (SELECT DISTINCT invoice_id FROM old_rows) LIMIT 1;
  END IF;
  IF frozen IS NOT NULL THEN
    RAISE EXCEPTION 'taxes of invoice % are frozen', frozen USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER billing_invoicetax_frozen_insert AFTER INSERT ON billing_invoicetax
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION billing_invoicetax_frozen();
CREATE TRIGGER billing_invoicetax_frozen_update AFTER UPDATE ON billing_invoicetax
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
  EXECUTE FUNCTION billing_invoicetax_frozen();
CREATE TRIGGER billing_invoicetax_frozen_delete AFTER DELETE ON billing_invoicetax
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION billing_invoicetax_frozen();
CREATE TRIGGER billing_invoicetax_truncate BEFORE TRUNCATE ON billing_invoicetax
  FOR EACH STATEMENT EXECUTE FUNCTION billing_truncate_guard();

CREATE FUNCTION billing_invoicepayment_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'payments are an append-only ledger: % on % refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'check_violation';
END $$;
CREATE TRIGGER billing_invoicepayment_append_only BEFORE UPDATE OR DELETE ON billing_invoicepayment
  FOR EACH ROW EXECUTE FUNCTION billing_invoicepayment_append_only();
CREATE TRIGGER billing_invoicepayment_truncate BEFORE TRUNCATE ON billing_invoicepayment
  FOR EACH STATEMENT EXECUTE FUNCTION billing_truncate_guard();
"""

REVERSE = r"""
DROP TRIGGER IF EXISTS billing_invoicepayment_truncate ON billing_invoicepayment;
DROP TRIGGER IF EXISTS billing_invoicepayment_append_only ON billing_invoicepayment;
DROP FUNCTION IF EXISTS billing_invoicepayment_append_only();
DROP TRIGGER IF EXISTS billing_invoicetax_truncate ON billing_invoicetax;
DROP TRIGGER IF EXISTS billing_invoicetax_frozen_delete ON billing_invoicetax;
DROP TRIGGER IF EXISTS billing_invoicetax_frozen_update ON billing_invoicetax;
DROP TRIGGER IF EXISTS billing_invoicetax_frozen_insert ON billing_invoicetax;
DROP FUNCTION IF EXISTS billing_invoicetax_frozen();
"""


def _previous_invoice_guard() -> str:
    """0007's invoice guard, put back when this migration is reversed."""
    from importlib import import_module

    return import_module("billing.migrations.0007_frozen_documents_and_credits_once").SQL.split(
        "CREATE FUNCTION billing_truncate_guard()")[0]


class Migration(migrations.Migration):
    dependencies = [("billing", "0009_invoice_document_tax_payments")]

    operations = [migrations.RunSQL(SQL, REVERSE + _previous_invoice_guard())]
