"""The cursor's snapshot in bigint, as txid_current_snapshot() gives it (the events' xid is a bigint since
metering 0007)."""

from django.db import migrations

FORWARD = """
ALTER TABLE rollups_cursor ALTER COLUMN snap_xmin TYPE bigint USING snap_xmin::text::bigint,
    ALTER COLUMN snap_xmax TYPE bigint USING snap_xmax::text::bigint,
    ALTER COLUMN snap_xip TYPE bigint[] USING snap_xip::text[]::bigint[];
"""

BACKWARD = """
ALTER TABLE rollups_cursor ALTER COLUMN snap_xmin TYPE xid8 USING snap_xmin::text::xid8,
    ALTER COLUMN snap_xmax TYPE xid8 USING snap_xmax::text::xid8,
    ALTER COLUMN snap_xip TYPE xid8[] USING snap_xip::text[]::xid8[];
"""


class Migration(migrations.Migration):
    dependencies = [("rollups", "0001_initial"), ("metering", "0007_usage_event_xid_brin")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
