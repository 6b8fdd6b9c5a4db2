"""Finalized means frozen, enforced by the database: a non-draft invoice's amounts, number and lines
cannot change, whatever code (or person with psql) tries."""

from django.db import migrations

SQL = """
CREATE FUNCTION billing_invoice_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.status <> 'draft' THEN
      RAISE EXCEPTION 'invoice % is % and cannot be deleted', OLD.id, OLD.status USING ERRCODE = 'check_violation';
    END IF;
    RETURN OLD;
  END IF;
  IF OLD.status <> 'draft' AND (
      NEW.subtotal IS DISTINCT FROM OLD.subtotal OR NEW.total IS DISTINCT FROM OLD.total
      OR NEW.credits_applied IS DISTINCT FROM OLD.credits_applied OR NEW.number IS DISTINCT FROM OLD.number
      OR NEW.currency IS DISTINCT FROM OLD.currency OR NEW.customer_id IS DISTINCT FROM OLD.customer_id
      OR NEW.period_start IS DISTINCT FROM OLD.period_start OR NEW.cutoff IS DISTINCT FROM OLD.cutoff
      OR NEW.finalized_at IS DISTINCT FROM OLD.finalized_at OR NEW.status = 'draft') THEN
    RAISE EXCEPTION 'invoice % is % and frozen', OLD.id, OLD.status USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER billing_invoice_frozen BEFORE UPDATE OR DELETE ON billing_invoice
  FOR EACH ROW EXECUTE FUNCTION billing_invoice_frozen();

CREATE FUNCTION billing_invoiceline_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE invoice_status text;
BEGIN
  SELECT status INTO invoice_status FROM billing_invoice
   WHERE id = CASE WHEN TG_OP = 'INSERT' THEN NEW.invoice_id ELSE OLD.invoice_id END;
  IF invoice_status IS DISTINCT FROM 'draft' AND invoice_status IS NOT NULL THEN
    RAISE EXCEPTION 'lines of a % invoice are frozen', invoice_status USING ERRCODE = 'check_violation';
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER billing_invoiceline_frozen BEFORE INSERT OR UPDATE OR DELETE ON billing_invoiceline
  FOR EACH ROW EXECUTE FUNCTION billing_invoiceline_frozen();
"""

REVERSE = """
DROP TRIGGER IF EXISTS billing_invoiceline_frozen ON billing_invoiceline;
DROP FUNCTION IF EXISTS billing_invoiceline_frozen();
DROP TRIGGER IF EXISTS billing_invoice_frozen ON billing_invoice;
DROP FUNCTION IF EXISTS billing_invoice_frozen();
"""


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_price_books_credits_finalization")]

    operations = [migrations.RunSQL(SQL, REVERSE)]
