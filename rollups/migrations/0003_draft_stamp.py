"""Where billing keeps the stamp of each draft (billing/services/draft_stamp.py): outside the apps the
stamp reads, so storing it does not change it."""

from django.db import migrations

FORWARD = """
CREATE TABLE rollups_draft_stamp (
    organization_id bigint NOT NULL,
    invoice_id bigint NOT NULL,
    stamp text NOT NULL,
    PRIMARY KEY (organization_id, invoice_id)
);
"""


class Migration(migrations.Migration):
    dependencies = [("rollups", "0002_cursor_bigint")]

    operations = [migrations.RunSQL(FORWARD, "DROP TABLE rollups_draft_stamp")]
