"""How long each organization's usage events stay in the database after their month (default: the
EVENT_RETENTION_MONTHS setting); billing exports and removes them after that, once the month's
invoices are final (billing/services/archive.py)."""

from django.db import migrations

FORWARD = """
CREATE TABLE metering_usageretention (
    organization_id bigint PRIMARY KEY,
    months integer NOT NULL CHECK (months > 0)
);
"""


class Migration(migrations.Migration):
    dependencies = [("metering", "0007_usage_event_xid_brin")]

    operations = [migrations.RunSQL(FORWARD, "DROP TABLE metering_usageretention")]
