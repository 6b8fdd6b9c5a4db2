from django.db import migrations

# The key table also records where its event lives (customer, timestamp), so an event is found by
# its key through the (customer_id, timestamp) index of one partition instead of a scan of all.
# Keys compare byte-wise (COLLATE "C"): they are opaque ids, and a locale-aware compare costs
# several times more on every insert into the key index.
FORWARD = """
ALTER TABLE metering_usagekey ALTER COLUMN idempotency_key TYPE varchar(200) COLLATE "C";
ALTER TABLE metering_usagekey ADD COLUMN customer_id bigint, ADD COLUMN timestamp timestamptz;
UPDATE metering_usagekey k SET customer_id = e.customer_id, timestamp = e.timestamp
FROM metering_usageevent e
WHERE e.organization_id = k.organization_id AND e.idempotency_key = k.idempotency_key;
ALTER TABLE metering_usagekey ALTER COLUMN customer_id SET NOT NULL, ALTER COLUMN timestamp SET NOT NULL;
"""

BACKWARD = """
ALTER TABLE metering_usagekey DROP COLUMN customer_id, DROP COLUMN timestamp;
ALTER TABLE metering_usagekey ALTER COLUMN idempotency_key TYPE varchar(200) COLLATE "default";
"""


class Migration(migrations.Migration):
    dependencies = [("metering", "0002_usage_event_table")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
