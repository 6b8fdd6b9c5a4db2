"""The rollup tables, and the triggers that feed the outcome counts.

Usage rollups are written by the rollup job (rollups/services.py) from the events' `xid` (metering 0006):
ingestion pays nothing for them. Outcome counts move with every insert and status change of an outcome
event: statement triggers append one row per (customer, period, type, status) touched to an append-only
delta table (no row is updated, so concurrent batches never wait for each other), and the job folds
the deltas into the counts; readers add the deltas not folded yet, so counts are exact at once.

Every key and index leads with the organization and no foreign key leaves it (derived data: the job
writes only what it read from the events), so Citus can distribute these tables by organization.
"""

from django.db import migrations

TABLES = """
-- Per customer, period, task and rated dimension: what the rate lookup of task_costs groups by (the
-- event's properties restricted to the organization's rate dimension keys, and the rate version its
-- timestamp falls in), with every aggregation a meter may ask for, so quantity and cost come out of it
-- whatever the meter's aggregation.
CREATE TABLE rollups_usage (
    organization_id bigint NOT NULL,
    customer_id bigint NOT NULL,
    period_start date NOT NULL,
    task_id varchar(200),
    meter_id bigint NOT NULL,
    dims jsonb NOT NULL,
    asof timestamptz NOT NULL,
    events bigint NOT NULL,
    total numeric NOT NULL,
    maximum numeric NOT NULL,
    latest numeric NOT NULL,
    latest_at timestamptz NOT NULL,
    latest_id bigint NOT NULL,
    max_received_at timestamptz NOT NULL,
    CONSTRAINT rollups_usage_key UNIQUE NULLS NOT DISTINCT
        (organization_id, customer_id, period_start, task_id, meter_id, dims, asof)
);
-- The distinct values a unique_count meter counts (its property, or the task id).
CREATE TABLE rollups_usage_value (
    organization_id bigint NOT NULL,
    customer_id bigint NOT NULL,
    period_start date NOT NULL,
    task_id varchar(200),
    meter_id bigint NOT NULL,
    dims jsonb NOT NULL,
    asof timestamptz NOT NULL,
    value text,
    CONSTRAINT rollups_usage_value_key UNIQUE NULLS NOT DISTINCT
        (organization_id, customer_id, period_start, meter_id, task_id, dims, asof, value)
);
-- Per customer, day and meter: the usage summary's "today" and its last event.
CREATE TABLE rollups_usage_daily (
    organization_id bigint NOT NULL,
    customer_id bigint NOT NULL,
    day date NOT NULL,
    meter_id bigint NOT NULL,
    events bigint NOT NULL,
    total numeric NOT NULL,
    maximum numeric NOT NULL,
    latest numeric NOT NULL,
    latest_at timestamptz NOT NULL,
    latest_id bigint NOT NULL,
    PRIMARY KEY (organization_id, customer_id, day, meter_id)
);
-- Per customer and period: when the job last changed its rollups, and the latest receipt among them
-- (a reader with an earlier cutoff cannot use them: they hold events received after it).
CREATE TABLE rollups_customer_period (
    organization_id bigint NOT NULL,
    customer_id bigint NOT NULL,
    period_start date NOT NULL,
    events bigint NOT NULL,
    max_received_at timestamptz NOT NULL,
    changed_at timestamptz NOT NULL,
    PRIMARY KEY (organization_id, customer_id, period_start)
);
CREATE INDEX rollups_customer_period_changed ON rollups_customer_period (organization_id, changed_at);
-- Where the job stands, per organization: the snapshot of its last pass (transactions below xmin, and
-- those below xmax not in xip, were folded in) and the rate-card shape its rollups are grouped by.
CREATE TABLE rollups_cursor (
    organization_id bigint PRIMARY KEY,
    snap_xmin xid8 NOT NULL,
    snap_xmax xid8 NOT NULL,
    snap_xip xid8[] NOT NULL,
    shape jsonb NOT NULL,
    advanced_at timestamptz NOT NULL,
    -- Customers whose rollups changed after this have not been sent to the live drafts refresh yet.
    drafts_at timestamptz
);
CREATE TABLE rollups_outcome_count (
    organization_id bigint NOT NULL,
    customer_id bigint NOT NULL,
    period_start date NOT NULL,
    outcome_type_id bigint NOT NULL,
    status varchar(16) NOT NULL,
    count bigint NOT NULL,
    PRIMARY KEY (organization_id, customer_id, period_start, outcome_type_id, status)
);
CREATE TABLE rollups_outcome_delta (
    organization_id bigint NOT NULL,
    customer_id bigint NOT NULL,
    period_start date NOT NULL,
    outcome_type_id bigint NOT NULL,
    status varchar(16) NOT NULL,
    delta bigint NOT NULL
);
CREATE INDEX rollups_outcome_delta_customer ON rollups_outcome_delta (organization_id, customer_id, period_start);
"""

# Statement triggers with transition tables: one INSERT of a few grouped rows per statement, whatever its
# size. Citus refuses transition tables on distributed tables; docs/scaling.md gives the row-trigger form.
TRIGGERS = """
CREATE FUNCTION rollups_outcome_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rollups_outcome_delta (organization_id, customer_id, period_start, outcome_type_id, status, delta)
    SELECT organization_id, customer_id, date_trunc('month', timestamp AT TIME ZONE 'UTC')::date, outcome_type_id,
           status, count(*)
    FROM new_outcomes GROUP BY 1, 2, 3, 4, 5;
    RETURN NULL;
END $$;
CREATE TRIGGER rollups_outcome_inserted AFTER INSERT ON outcomes_outcomeevent
REFERENCING NEW TABLE AS new_outcomes FOR EACH STATEMENT EXECUTE FUNCTION rollups_outcome_inserted();

CREATE FUNCTION rollups_outcome_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rollups_outcome_delta (organization_id, customer_id, period_start, outcome_type_id, status, delta)
    SELECT organization_id, customer_id, period_start, outcome_type_id, status, sum(delta)
    FROM (
        SELECT o.organization_id, o.customer_id, date_trunc('month', o.timestamp AT TIME ZONE 'UTC')::date AS period_start,
               o.outcome_type_id, o.status, -1 AS delta
        FROM old_outcomes o JOIN new_outcomes n ON n.id = o.id
        WHERE (o.status, o.customer_id, o.outcome_type_id, o.timestamp)
              IS DISTINCT FROM (n.status, n.customer_id, n.outcome_type_id, n.timestamp)
        UNION ALL
        SELECT n.organization_id, n.customer_id, date_trunc('month', n.timestamp AT TIME ZONE 'UTC')::date,
               n.outcome_type_id, n.status, 1
        FROM old_outcomes o JOIN new_outcomes n ON n.id = o.id
        WHERE (o.status, o.customer_id, o.outcome_type_id, o.timestamp)
              IS DISTINCT FROM (n.status, n.customer_id, n.outcome_type_id, n.timestamp)
    ) moves
    GROUP BY 1, 2, 3, 4, 5 HAVING sum(delta) <> 0;
    RETURN NULL;
END $$;
CREATE TRIGGER rollups_outcome_updated AFTER UPDATE ON outcomes_outcomeevent
REFERENCING OLD TABLE AS old_outcomes NEW TABLE AS new_outcomes
FOR EACH STATEMENT EXECUTE FUNCTION rollups_outcome_updated();

CREATE FUNCTION rollups_outcome_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rollups_outcome_delta (organization_id, customer_id, period_start, outcome_type_id, status, delta)
    SELECT organization_id, customer_id, date_trunc('month', timestamp AT TIME ZONE 'UTC')::date, outcome_type_id,
           status, -count(*)
    FROM old_outcomes GROUP BY 1, 2, 3, 4, 5;
    RETURN NULL;
END $$;
CREATE TRIGGER rollups_outcome_deleted AFTER DELETE ON outcomes_outcomeevent
REFERENCING OLD TABLE AS old_outcomes FOR EACH STATEMENT EXECUTE FUNCTION rollups_outcome_deleted();

-- Outcomes stored before this migration.
INSERT INTO rollups_outcome_count (organization_id, customer_id, period_start, outcome_type_id, status, count)
SELECT organization_id, customer_id, date_trunc('month', timestamp AT TIME ZONE 'UTC')::date, outcome_type_id,
       status, count(*)
FROM outcomes_outcomeevent GROUP BY 1, 2, 3, 4, 5;
"""

BACKWARD = """
DROP TRIGGER IF EXISTS rollups_outcome_deleted ON outcomes_outcomeevent;
DROP TRIGGER IF EXISTS rollups_outcome_updated ON outcomes_outcomeevent;
DROP TRIGGER IF EXISTS rollups_outcome_inserted ON outcomes_outcomeevent;
DROP FUNCTION IF EXISTS rollups_outcome_deleted();
DROP FUNCTION IF EXISTS rollups_outcome_updated();
DROP FUNCTION IF EXISTS rollups_outcome_inserted();
DROP TABLE IF EXISTS rollups_outcome_delta, rollups_outcome_count, rollups_cursor, rollups_customer_period,
    rollups_usage_daily, rollups_usage_value, rollups_usage;
"""


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("metering", "0006_usage_event_xid_organization_keys"),
        ("outcomes", "0003_reversed_outcomes_stay_reversed"),
    ]

    operations = [migrations.RunSQL(TABLES + TRIGGERS, BACKWARD)]
