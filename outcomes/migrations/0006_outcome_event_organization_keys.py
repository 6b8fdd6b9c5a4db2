"""Outcome events and their transitions are keyed by organization, so Citus can distribute them by
organization beside the usage events (docs/scaling.md, Citus):

- primary keys (organization_id, id) on outcomes_outcomeevent and outcomes_outcometransition;
- every index leads with organization_id; the single-column indexes of their foreign keys go;
- no foreign key to a plain table from these tables (ingestion validates the customer and outcome type
  within the request's organization; the services name the acting user);
- the tables that reference an event (transitions, disputes, evidence here; invoice lines in billing 0014)
  do so by (organization_id, outcome_event_id), so a reference cannot cross organizations.

Django keeps `id` as the models' primary key field (it cannot point a ForeignKey at a composite key), so
the keys and the composite foreign keys are SQL here; the fields say db_constraint=False.
Runs after billing 0013, which drops billing's constraints on the old key."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import outcomes.fields

COMPOSITE_FKS = [  # (table, constraint)
    ("outcomes_outcometransition", "outcomes_outcometransition_event_fk"),
    ("outcomes_dispute", "outcomes_dispute_event_fk"),
    ("outcomes_outcomeevidence", "outcomes_outcomeevidence_event_fk"),
]

KEYS = """
ALTER TABLE outcomes_outcomeevent DROP CONSTRAINT outcomes_outcomeevent_pkey;
ALTER TABLE outcomes_outcomeevent ADD CONSTRAINT outcomes_outcomeevent_pkey PRIMARY KEY (organization_id, id);
ALTER TABLE outcomes_outcometransition DROP CONSTRAINT outcomes_outcometransition_pkey;
ALTER TABLE outcomes_outcometransition ADD CONSTRAINT outcomes_outcometransition_pkey
  PRIMARY KEY (organization_id, id);
"""

KEYS_BACKWARD = """
ALTER TABLE outcomes_outcometransition DROP CONSTRAINT outcomes_outcometransition_pkey;
ALTER TABLE outcomes_outcometransition ADD CONSTRAINT outcomes_outcometransition_pkey PRIMARY KEY (id);
ALTER TABLE outcomes_outcomeevent DROP CONSTRAINT outcomes_outcomeevent_pkey;
ALTER TABLE outcomes_outcomeevent ADD CONSTRAINT outcomes_outcomeevent_pkey PRIMARY KEY (id);
"""

FKS = "".join(
    f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY (organization_id, outcome_event_id) "
    f"REFERENCES outcomes_outcomeevent (organization_id, id) DEFERRABLE INITIALLY DEFERRED;\n"
    for table, name in COMPOSITE_FKS
)
FKS_BACKWARD = "".join(f"ALTER TABLE {table} DROP CONSTRAINT {name};\n" for table, name in COMPOSITE_FKS)


def _fk(**options: object) -> models.ForeignKey:
    return models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, **options)


def _event_fk(**options: object) -> models.ForeignKey:
    return outcomes.fields.SameOrganizationForeignKey(
        db_constraint=False, on_delete=django.db.models.deletion.PROTECT, to="outcomes.outcomeevent", **options)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_billing_details"),
        ("outcomes", "0005_not_standing_index"),
        ("billing", "0013_outcome_event_keys_unconstrained"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The foreign keys that depend on the old primary key go first.
        migrations.AlterField("dispute", "outcome_event",
                              _fk(related_name="disputes", to="outcomes.outcomeevent")),
        migrations.AlterField("outcomeevidence", "outcome_event",
                              _event_fk(related_name="evidence")),
        migrations.AlterField("outcometransition", "outcome_event",
                              _event_fk(db_index=False, related_name="transitions")),
        migrations.AlterField("outcometransition", "organization",
                              _fk(db_index=False, to="accounts.organization")),
        migrations.AlterField("outcometransition", "actor_user",
                              _fk(blank=True, db_index=False, null=True, to=settings.AUTH_USER_MODEL)),
        migrations.AlterField("outcomeevent", "organization", _fk(db_index=False, to="accounts.organization")),
        migrations.AlterField("outcomeevent", "customer", _fk(db_index=False, to="accounts.customer")),
        migrations.AlterField("outcomeevent", "outcome_type", _fk(db_index=False, to="outcomes.outcometype")),
        migrations.RemoveIndex("outcomeevent", "outcomes_ou_custome_5106de_idx"),
        migrations.RemoveIndex("outcomeevent", "outcomes_ou_custome_8bff67_idx"),
        migrations.RemoveIndex("outcomeevent", "outcomes_ou_status_bdbedd_idx"),
        migrations.RemoveIndex("outcometransition", "outcomes_ou_outcome_643185_idx"),
        migrations.AddIndex("outcomeevent", models.Index(
            fields=["organization", "customer", "timestamp"], name="outcome_event_customer_time")),
        migrations.AddIndex("outcomeevent", models.Index(
            fields=["organization", "customer", "task_id"], name="outcome_event_customer_task")),
        migrations.AddIndex("outcomeevent", models.Index(
            condition=models.Q(status="pending"), fields=["organization", "verifiable_at"],
            name="outcome_event_pending_due")),
        migrations.AddIndex("outcometransition", models.Index(
            fields=["organization", "outcome_event", "created_at"], name="outcome_transition_event")),
        migrations.RunSQL(KEYS, KEYS_BACKWARD),
        migrations.RunSQL(FKS, FKS_BACKWARD),
    ]
