"""Finalized means frozen, for every column and every document, and an outcome is credited once.

- A frozen invoice (finalized, paid, void) keeps every column; only its status moves, and only along
  draft → finalized → paid | void (paid and void are final), each with its timestamp. A CHECK holds
  the status to the four known values.
- Lines of a frozen invoice, credit notes and their lines: no UPDATE, no DELETE (a deleted note
  would leave a gap in its gapless numbering), no TRUNCATE. A credit note's total is the sum of its
  lines, checked at commit, so no line can be added to an issued note later.
- A standing credit is a credit note line, or a credit line of a finalized or paid invoice (a void
  one stands no more; a draft's is a proposal until it is finalized). An outcome, and an invoice
  line, has at most one: a constraint cannot span the two tables, so triggers check it, after
  locking the outcome rows so two transactions crediting the same outcome at once queue up.

TRUNCATE is refused unless the session sets `tally.allow_truncate` to `on` (the test runner's flush
of the whole database does). `seed_demo --reset` switches the user triggers off in its deleting
transaction, as before.
"""

from django.db import migrations, models

SQL = r"""
CREATE OR REPLACE FUNCTION billing_invoice_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  kept CONSTANT text[] := ARRAY['status', 'paid_at', 'voided_at', 'updated_at'];
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
  -- Every column but the status and its timestamps, including columns added later.
  IF (to_jsonb(NEW) - kept) IS DISTINCT FROM (to_jsonb(OLD) - kept)
      OR (NEW.paid_at IS DISTINCT FROM OLD.paid_at AND NOT (OLD.status = 'finalized' AND NEW.status = 'paid'))
      OR (NEW.voided_at IS DISTINCT FROM OLD.voided_at AND NOT (OLD.status = 'finalized' AND NEW.status = 'void'))
  THEN
    RAISE EXCEPTION 'invoice % is % and frozen', OLD.id, OLD.status USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS billing_invoice_frozen ON billing_invoice;
CREATE TRIGGER billing_invoice_frozen BEFORE INSERT OR UPDATE OR DELETE ON billing_invoice
  FOR EACH ROW EXECUTE FUNCTION billing_invoice_frozen();

CREATE FUNCTION billing_truncate_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(current_setting('tally.allow_truncate', true), '') <> 'on' THEN
    RAISE EXCEPTION '% holds frozen documents and cannot be truncated', TG_TABLE_NAME
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER billing_invoice_truncate BEFORE TRUNCATE ON billing_invoice
  FOR EACH STATEMENT EXECUTE FUNCTION billing_truncate_guard();
CREATE TRIGGER billing_invoiceline_truncate BEFORE TRUNCATE ON billing_invoiceline
  FOR EACH STATEMENT EXECUTE FUNCTION billing_truncate_guard();
CREATE TRIGGER billing_creditnote_truncate BEFORE TRUNCATE ON billing_creditnote
  FOR EACH STATEMENT EXECUTE FUNCTION billing_truncate_guard();
CREATE TRIGGER billing_creditnoteline_truncate BEFORE TRUNCATE ON billing_creditnoteline
  FOR EACH STATEMENT EXECUTE FUNCTION billing_truncate_guard();

CREATE FUNCTION billing_credit_note_issued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'credit notes are issued documents: % on % refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'check_violation';
END $$;
CREATE TRIGGER billing_creditnote_issued BEFORE UPDATE OR DELETE ON billing_creditnote
  FOR EACH ROW EXECUTE FUNCTION billing_credit_note_issued();
CREATE TRIGGER billing_creditnoteline_issued BEFORE UPDATE OR DELETE ON billing_creditnoteline
  FOR EACH ROW EXECUTE FUNCTION billing_credit_note_issued();

CREATE FUNCTION billing_credit_note_total() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  note_id bigint := (to_jsonb(NEW) ->> CASE WHEN TG_TABLE_NAME = 'billing_creditnote' THEN 'id'
                                           ELSE 'credit_note_id' END)::bigint;
  note_total numeric;
  lines_total numeric;
BEGIN
  SELECT total INTO note_total FROM billing_creditnote WHERE id = note_id;
  SELECT coalesce(sum(amount), 0) INTO lines_total FROM billing_creditnoteline WHERE credit_note_id = note_id;
  IF note_total IS DISTINCT FROM lines_total THEN
    RAISE EXCEPTION 'credit note % totals % but its lines sum to %', note_id, note_total, lines_total
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER billing_creditnote_total AFTER INSERT ON billing_creditnote
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION billing_credit_note_total();
CREATE CONSTRAINT TRIGGER billing_creditnoteline_total AFTER INSERT ON billing_creditnoteline
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION billing_credit_note_total();

-- The standing credits of some outcomes and lines; more than one for any of them is refused.
CREATE FUNCTION billing_credited_once_check(event_ids bigint[], line_ids bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE twice text;
BEGIN
  -- Lock first, in one order: a concurrent credit of the same outcome waits for this one's commit and
  -- then sees it (each statement below takes a fresh snapshot under READ COMMITTED).
  PERFORM 1 FROM outcomes_outcomeevent WHERE id = ANY(event_ids) ORDER BY id FOR UPDATE;
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

CREATE FUNCTION billing_creditnoteline_credited_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM billing_credited_once_check(
    ARRAY(SELECT outcome_event_id FROM new_rows WHERE outcome_event_id IS NOT NULL),
    ARRAY(SELECT invoice_line_id FROM new_rows WHERE invoice_line_id IS NOT NULL));
  RETURN NULL;
END $$;
CREATE TRIGGER billing_creditnoteline_credited_once AFTER INSERT ON billing_creditnoteline
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION billing_creditnoteline_credited_once();

-- A draft's credit lines become standing when it is finalized.
CREATE FUNCTION billing_invoice_credited_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM billing_credited_once_check(
    ARRAY(SELECT outcome_event_id FROM billing_invoiceline
           WHERE invoice_id = NEW.id AND kind = 'credit' AND outcome_event_id IS NOT NULL),
    ARRAY(SELECT credited_line_id FROM billing_invoiceline
           WHERE invoice_id = NEW.id AND kind = 'credit' AND credited_line_id IS NOT NULL));
  RETURN NULL;
END $$;
CREATE TRIGGER billing_invoice_credited_once AFTER UPDATE OF status ON billing_invoice
  FOR EACH ROW WHEN (OLD.status = 'draft' AND NEW.status <> 'draft')
  EXECUTE FUNCTION billing_invoice_credited_once();
"""

REVERSE = r"""
DROP TRIGGER IF EXISTS billing_invoice_credited_once ON billing_invoice;
DROP FUNCTION IF EXISTS billing_invoice_credited_once();
DROP TRIGGER IF EXISTS billing_creditnoteline_credited_once ON billing_creditnoteline;
DROP FUNCTION IF EXISTS billing_creditnoteline_credited_once();
DROP FUNCTION IF EXISTS billing_credited_once_check(bigint[], bigint[]);
DROP TRIGGER IF EXISTS billing_creditnoteline_total ON billing_creditnoteline;
DROP TRIGGER IF EXISTS billing_creditnote_total ON billing_creditnote;
DROP FUNCTION IF EXISTS billing_credit_note_total();
DROP TRIGGER IF EXISTS billing_creditnoteline_issued ON billing_creditnoteline;
DROP TRIGGER IF EXISTS billing_creditnote_issued ON billing_creditnote;
DROP FUNCTION IF EXISTS billing_credit_note_issued();
DROP TRIGGER IF EXISTS billing_creditnoteline_truncate ON billing_creditnoteline;
DROP TRIGGER IF EXISTS billing_creditnote_truncate ON billing_creditnote;
DROP TRIGGER IF EXISTS billing_invoiceline_truncate ON billing_invoiceline;
DROP TRIGGER IF EXISTS billing_invoice_truncate ON billing_invoice;
DROP FUNCTION IF EXISTS billing_truncate_guard();
DROP TRIGGER IF EXISTS billing_invoice_frozen ON billing_invoice;
DROP FUNCTION IF EXISTS billing_invoice_frozen();
"""


def _previous_invoice_guard() -> str:
    """0003's guard, put back when this migration is reversed."""
    from importlib import import_module

    return import_module("billing.migrations.0003_frozen_invoice_triggers").SQL.split(
        "CREATE FUNCTION billing_invoiceline_frozen()")[0]


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0006_line_kind_and_pricing_model_labels"),
        ("outcomes", "0002_dispute"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="invoice",
            constraint=models.CheckConstraint(
                condition=models.Q(status__in=["draft", "finalized", "paid", "void"]), name="invoice_status_known"
            ),
        ),
        migrations.RunSQL(SQL, REVERSE + _previous_invoice_guard()),
    ]
