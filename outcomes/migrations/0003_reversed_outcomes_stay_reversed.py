"""A reversed or credited outcome is never resurrected, whatever code (or person with psql) tries:
its status may only move between reversed and credited (a credit written, or the invoice holding
the credit voided), and a reversal, once recorded, is never cleared."""

from django.db import migrations

SQL = """
-- Outcomes a rejected dispute moved back after their reversal (before reversals closed disputes) are
-- reversed again, with the move in their history, so the next run credits them if they were billed.
WITH stuck AS (
  UPDATE outcomes_outcomeevent e SET status = 'reversed'
    FROM outcomes_outcomeevent old
   WHERE e.id = old.id AND e.reversed_at IS NOT NULL AND e.status NOT IN ('reversed', 'credited')
  RETURNING e.id, e.organization_id, old.status AS from_status
)
INSERT INTO outcomes_outcometransition
  (organization_id, outcome_event_id, from_status, to_status, reason, actor_label, created_at)
SELECT organization_id, id, from_status, 'reversed', 'reversal restored: it was undone by a dispute decision',
       'system', now() FROM stuck;

CREATE FUNCTION outcomes_outcomeevent_settled() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (OLD.reversed_at IS NOT NULL AND NEW.reversed_at IS NULL)
     OR ((OLD.status IN ('reversed', 'credited') OR OLD.reversed_at IS NOT NULL)
         AND NEW.status NOT IN ('reversed', 'credited')) THEN
    RAISE EXCEPTION 'outcome event % is % and cannot become %', OLD.id, OLD.status, NEW.status
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER outcomes_outcomeevent_settled BEFORE UPDATE OF status, reversed_at ON outcomes_outcomeevent
  FOR EACH ROW WHEN (OLD.status IN ('reversed', 'credited') OR OLD.reversed_at IS NOT NULL)
  EXECUTE FUNCTION outcomes_outcomeevent_settled();
"""

REVERSE = """
DROP TRIGGER IF EXISTS outcomes_outcomeevent_settled ON outcomes_outcomeevent;
DROP FUNCTION IF EXISTS outcomes_outcomeevent_settled();
"""


class Migration(migrations.Migration):
    dependencies = [("outcomes", "0002_dispute")]

    operations = [migrations.RunSQL(SQL, REVERSE)]
