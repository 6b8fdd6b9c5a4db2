"""How far each shard of the live-drafts cycle has sent changed customers to refresh, per organization
(the cycle runs in LIVE_DRAFTS_SHARDS shards by customer, one worker each)."""

from django.db import migrations

FORWARD = """
CREATE TABLE rollups_drafts_mark (
    organization_id bigint NOT NULL,
    shard integer NOT NULL,
    at timestamptz NOT NULL,
    PRIMARY KEY (organization_id, shard)
);
ALTER TABLE rollups_cursor DROP COLUMN IF EXISTS drafts_at;
"""


class Migration(migrations.Migration):
    dependencies = [("rollups", "0003_draft_stamp")]

    operations = [migrations.RunSQL(
        FORWARD, "DROP TABLE rollups_drafts_mark; ALTER TABLE rollups_cursor ADD COLUMN drafts_at timestamptz")]
