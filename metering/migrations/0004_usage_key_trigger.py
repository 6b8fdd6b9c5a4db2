from django.db import migrations

# Every statement that inserts usage events through the parent table records their keys in
# metering_usagekey, in one INSERT at the end of the statement; its primary key then fails the whole
# statement if any key is already known. Ingestion thus writes each batch with a single COPY, and
# the keys come from the rows PostgreSQL has already parsed instead of a second COPY of text.
# Keys go in one order (byte order, as the key index compares) so that two batches sharing keys
# wait for each other rather than deadlock. Statements on a partition itself (rows moved out of the
# default partition) do not fire it: their keys are already recorded.
FORWARD = """
CREATE FUNCTION metering_usageevent_record_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO metering_usagekey (organization_id, idempotency_key, customer_id, timestamp)
    SELECT organization_id, idempotency_key, customer_id, timestamp FROM new_events
    ORDER BY organization_id, idempotency_key COLLATE "C";
    RETURN NULL;
END
$$;
CREATE TRIGGER metering_usageevent_record_keys AFTER INSERT ON metering_usageevent
REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION metering_usageevent_record_keys();
"""

BACKWARD = """
DROP TRIGGER metering_usageevent_record_keys ON metering_usageevent;
DROP FUNCTION metering_usageevent_record_keys();
"""


class Migration(migrations.Migration):
    dependencies = [("metering", "0003_usage_key_locator")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
