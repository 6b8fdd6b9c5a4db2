"""Usage events carry the id of the transaction that wrote them (`xid`), and every key and index of the
event table leads with the organization.

`xid` lets the rollup job (rollups/services.py) take exactly the rows committed since its last pass, even
when transactions commit out of id order: a row is new to the job when its transaction was still running
or not yet started at the job's previous snapshot and is committed at this one. The (organization_id, xid)
index makes that read a short range scan per organization. The default is evaluated per row by
PostgreSQL, so ingestion's COPY does not name the column.

Keys leading with the organization are what Citus needs to distribute the table by organization (and
every query of the events names the organization anyway): see docs/scaling.md.
"""

from django.db import migrations

FORWARD = """
ALTER TABLE metering_usageevent ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX metering_usageevent_org_xid ON metering_usageevent (organization_id, xid);
ALTER TABLE metering_usageevent DROP CONSTRAINT metering_usageevent_pkey;
ALTER TABLE metering_usageevent ADD PRIMARY KEY (organization_id, id, timestamp);
DROP INDEX metering_usageevent_customer_time;
DROP INDEX metering_usageevent_customer_task;
CREATE INDEX metering_usageevent_customer_time ON metering_usageevent (organization_id, customer_id, timestamp);
CREATE INDEX metering_usageevent_customer_task ON metering_usageevent (organization_id, customer_id, task_id);
"""

BACKWARD = """
DROP INDEX metering_usageevent_customer_task;
DROP INDEX metering_usageevent_customer_time;
CREATE INDEX metering_usageevent_customer_time ON metering_usageevent (customer_id, timestamp);
CREATE INDEX metering_usageevent_customer_task ON metering_usageevent (customer_id, task_id);
ALTER TABLE metering_usageevent DROP CONSTRAINT metering_usageevent_pkey;
ALTER TABLE metering_usageevent ADD PRIMARY KEY (id, timestamp);
DROP INDEX metering_usageevent_org_xid;
ALTER TABLE metering_usageevent DROP COLUMN xid;
"""


class Migration(migrations.Migration):
    dependencies = [("metering", "0005_meter_unique_property_safe")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
