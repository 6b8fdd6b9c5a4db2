"""Receipts are sealed and baselines are versions: the database refuses what would rewrite them.

- A value receipt: no UPDATE, no DELETE, no TRUNCATE (unless the session sets `tally.allow_truncate`,
  as the test runner's flush does). An amended period gets a new receipt that supersedes it.
- A baseline: its values never change and it is never deleted; only its status moves, once, from
  proposed to approved or declined, with who decided and when.
"""

from django.db import migrations

SQL = r"""
CREATE FUNCTION value_receipt_sealed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'value receipts are sealed: % on % refused; issue a superseding receipt', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'check_violation';
END $$;
CREATE TRIGGER value_receipt_sealed BEFORE UPDATE OR DELETE ON value_valuereceipt
  FOR EACH ROW EXECUTE FUNCTION value_receipt_sealed();

CREATE FUNCTION value_truncate_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(current_setting('tally.allow_truncate', true), '') <> 'on' THEN
    RAISE EXCEPTION '% holds sealed records and cannot be truncated', TG_TABLE_NAME
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER value_receipt_truncate BEFORE TRUNCATE ON value_valuereceipt
  FOR EACH STATEMENT EXECUTE FUNCTION value_truncate_guard();

CREATE FUNCTION value_baseline_versioned() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  decided CONSTANT text[] := ARRAY['status', 'decided_by_id', 'decided_by_label', 'decided_at'];
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'baseline % is a version and cannot be deleted', OLD.id USING ERRCODE = 'check_violation';
  END IF;
  IF (to_jsonb(NEW) - decided) IS DISTINCT FROM (to_jsonb(OLD) - decided) THEN
    RAISE EXCEPTION 'baseline % cannot change; propose a new version', OLD.id USING ERRCODE = 'check_violation';
  END IF;
  IF (to_jsonb(NEW) -> 'status') IS DISTINCT FROM (to_jsonb(OLD) -> 'status')
      AND NOT (OLD.status = 'proposed' AND NEW.status IN ('approved', 'declined')) THEN
    RAISE EXCEPTION 'baseline % cannot go from % to %', OLD.id, OLD.status, NEW.status
      USING ERRCODE = 'check_violation';
  END IF;
  IF OLD.status <> 'proposed' AND (to_jsonb(NEW) IS DISTINCT FROM to_jsonb(OLD)) THEN
    RAISE EXCEPTION 'baseline % was % and is final', OLD.id, OLD.status USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER value_baseline_versioned BEFORE UPDATE OR DELETE ON value_baseline
  FOR EACH ROW EXECUTE FUNCTION value_baseline_versioned();
"""

REVERSE_SQL = r"""
DROP TRIGGER IF EXISTS value_baseline_versioned ON value_baseline;
DROP FUNCTION IF EXISTS value_baseline_versioned();
DROP TRIGGER IF EXISTS value_receipt_truncate ON value_valuereceipt;
DROP FUNCTION IF EXISTS value_truncate_guard();
DROP TRIGGER IF EXISTS value_receipt_sealed ON value_valuereceipt;
DROP FUNCTION IF EXISTS value_receipt_sealed();
"""


class Migration(migrations.Migration):
    dependencies = [("value", "0001_baselines_receipts_guardrails")]

    operations = [migrations.RunSQL(SQL, REVERSE_SQL)]
