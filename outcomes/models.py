from datetime import timedelta

from django.contrib.postgres.fields import ArrayField
from django.db import models

from accounts.models import Customer, Organization, User
from core.crypto import secret_decrypt, secret_encrypt
from outcomes.enums import Assurance, OutcomeStatus, SourceMethod, VerificationMethod
from outcomes.fields import SameOrganizationForeignKey


class OutcomeType(models.Model):
    """A result a customer pays for, its default price, and what one is worth to the customer."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="outcome_types")
    code = models.SlugField(max_length=100)
    name = models.CharField(max_length=200)
    price = models.DecimalField(max_digits=20, decimal_places=6, help_text="Default price per outcome.")
    currency = models.CharField(max_length=3)
    verification_window_hours = models.PositiveIntegerField(default=0)
    value = models.DecimalField(
        max_digits=20, decimal_places=6, default=0, help_text="What one outcome is worth to the customer (ROI)."
    )
    verification_methods = ArrayField(
        models.CharField(max_length=24, choices=VerificationMethod.choices), default=list, blank=True,
        help_text="How its outcomes are verified; any one suffices. Empty means ['window'].",
    )
    silence_is_consent = models.BooleanField(
        default=False, help_text="customer_confirmation: the window passing unanswered verifies (assumed).")
    evaluator_threshold = models.DecimalField(
        max_digits=12, decimal_places=6, null=True, blank=True,
        help_text="evaluator: the lowest score that verifies an outcome.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "code"], name="outcome_type_code_unique"),
            models.CheckConstraint(condition=models.Q(price__gte=0), name="outcome_price_not_negative"),
            models.CheckConstraint(
                condition=~models.Q(verification_methods__contains=["evaluator"])
                | models.Q(evaluator_threshold__isnull=False),
                name="outcome_type_evaluator_has_threshold",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def verification_window(self) -> timedelta:
        return timedelta(hours=self.verification_window_hours)

    @property
    def methods(self) -> list[str]:
        return list(self.verification_methods) or [VerificationMethod.WINDOW]

    @property
    def verified_by_silence(self) -> bool:
        """Whether the window passing, with no reversal or rejection, verifies an outcome (as assumed)."""
        return VerificationMethod.WINDOW in self.methods or (
            VerificationMethod.CUSTOMER_CONFIRMATION in self.methods and self.silence_is_consent)


class OutcomeEvent(models.Model):
    """A claim that an outcome happened for a task. The row is the claim; its history is OutcomeTransition."""

    Status = OutcomeStatus  # defined beside the models' module so other apps compare statuses without them

    # Keyed by organization for Citus (outcomes 0006): the table's primary key is (organization_id, id) in
    # the database, and the tables that reference an event do so by both columns, so a reference cannot
    # cross organizations. Django keeps `id` as the pk field: it cannot point a ForeignKey at a composite
    # primary key. Every query names the organization, or it reads the whole table.
    # No database constraints to plain tables (Citus refuses them from a distributed table): ingestion
    # (outcomes/ingestion.py, the ingest pipeline) resolves the customer and outcome type within the
    # request's organization before a row is written.
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, db_constraint=False, db_index=False)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, db_constraint=False, db_index=False)
    outcome_type = models.ForeignKey(OutcomeType, on_delete=models.PROTECT, db_constraint=False, db_index=False)
    task_id = models.CharField(max_length=200)
    timestamp = models.DateTimeField()
    properties = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(max_length=200)
    received_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    verifiable_at = models.DateTimeField(
        null=True, blank=True,
        help_text="timestamp + the type's verification window; null while it awaits evidence (a type that "
                  "silence does not verify), then the moment evidence verified it.")
    confirmed_at = models.DateTimeField(
        null=True, blank=True, help_text="When evidence (not silence) first confirmed it: billed as confirmed.")
    # A database default: ingestion writes rows by COPY, which Django's defaults never reach.
    verified_by = models.CharField(max_length=24, choices=VerificationMethod.choices, blank=True, default="",
                                   db_default="", help_text="The method that verified it.")
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversal_reason = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "idempotency_key"], name="outcome_event_key_unique")
        ]
        indexes = [
            models.Index(fields=["organization", "customer", "timestamp"], name="outcome_event_customer_time"),
            models.Index(fields=["organization", "customer", "task_id"], name="outcome_event_customer_task"),
            # The verification sweep's pending events whose window has passed, every organization's.
            models.Index(fields=["organization", "verifiable_at"], name="outcome_event_pending_due",
                         condition=models.Q(status="pending")),
            # The few outcomes that no longer count (billing's ROI figures subtract their lines).
            models.Index(fields=["organization", "customer"], name="outcome_event_not_standing",
                         condition=models.Q(status__in=["reversed", "credited"])),
        ]

    def __str__(self) -> str:
        return f"{self.outcome_type_id}:{self.task_id} ({self.status})"

    @property
    def is_reversed(self) -> bool:
        return self.reversed_at is not None

    @property
    def assurance(self) -> str:
        return Assurance.CONFIRMED if self.confirmed_at is not None else Assurance.ASSUMED


class OutcomeTransition(models.Model):
    """Append-only history of an outcome event's status: who moved it, when, and why.

    Keyed and distributed like its events (outcomes 0006): primary key (organization_id, id) in the
    database, and its event referenced by (organization_id, outcome_event_id) there."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, db_constraint=False, db_index=False)
    # The constraint is the composite one of outcomes 0006 (Django cannot declare it).
    outcome_event = SameOrganizationForeignKey(OutcomeEvent, on_delete=models.PROTECT, related_name="transitions",
                                               db_constraint=False, db_index=False)
    from_status = models.CharField(max_length=16)
    to_status = models.CharField(max_length=16)
    reason = models.TextField(blank=True)
    actor_user = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, db_constraint=False,
                                   db_index=False)  # the service moving it names a user of its organization
    actor_label = models.CharField(max_length=100, blank=True, help_text="api key prefix or 'system'")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "outcome_event", "created_at"],
                                name="outcome_transition_event")]

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status}"


class Dispute(models.Model):
    """A customer's challenge of one outcome; the outcome is held out of billing while it is open."""

    class Status(models.TextChoices):
        OPEN = "open"
        ACCEPTED = "accepted"
        REJECTED = "rejected"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT)
    # The constraint is the composite (organization_id, outcome_event_id) one of outcomes 0006. A plain
    # ForeignKey (the audit log copies this field): reads of disputes with their event name the organization.
    outcome_event = models.ForeignKey(OutcomeEvent, on_delete=models.PROTECT, related_name="disputes",
                                      db_constraint=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    reason = models.TextField()
    status_before = models.CharField(max_length=16, help_text="The outcome's status when the dispute opened.")
    opened_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    opened_by_label = models.CharField(max_length=100, blank=True)
    opened_at = models.DateTimeField(auto_now_add=True)
    resolution_note = models.TextField(blank=True)
    resolved_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    resolved_by_label = models.CharField(max_length=100, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["outcome_event"], condition=models.Q(status="open"), name="one_open_dispute_per_outcome"
            )
        ]

    def __str__(self) -> str:
        return f"dispute {self.pk} ({self.status})"


class VerificationSource(models.Model):
    """A system that reports outcomes' fate by signed callbacks: a help desk, a code host (system of
    record), or an evaluator (an LLM judge, a CSAT survey). Its secret signs every callback."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="verification_sources")
    code = models.SlugField(max_length=100)
    name = models.CharField(max_length=200)
    method = models.CharField(max_length=24, default=SourceMethod.SYSTEM_OF_RECORD, choices=SourceMethod.choices)
    # The HMAC-SHA256 key of its callbacks' signatures: checking one needs the key itself, so it is stored
    # encrypted (core.crypto), read through `secret`.
    secret_encrypted = models.TextField(help_text="Fernet token of the callbacks' signing key (core.crypto).")
    created_at = models.DateTimeField(auto_now_add=True)
    disabled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "code"], name="verification_source_code_unique")
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.method})"

    @property
    def secret(self) -> str:
        return secret_decrypt(self.secret_encrypted, what="verification source secret",
                              remedy="rotate the source's secret", field="secret")

    @secret.setter
    def secret(self, value: str) -> None:
        self.secret_encrypted = secret_encrypt(value)


class OutcomeEvidence(models.Model):
    """Append-only: one piece of evidence about an outcome: who or what said it happened (or not), how,
    when, with what score, link or id. A callback delivery is recorded once (source, delivery_id)."""

    class Verdict(models.TextChoices):
        CONFIRMED = "confirmed"
        REJECTED = "rejected"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT)
    # The constraint is the composite (organization_id, outcome_event_id) one of outcomes 0006.
    outcome_event = SameOrganizationForeignKey(OutcomeEvent, on_delete=models.PROTECT, related_name="evidence",
                                               db_constraint=False)
    method = models.CharField(max_length=24, choices=VerificationMethod.choices)
    verdict = models.CharField(max_length=16, choices=Verdict.choices)
    source = models.ForeignKey(VerificationSource, on_delete=models.PROTECT, null=True, blank=True)
    delivery_id = models.CharField(max_length=200, blank=True, help_text="The source's id of this callback.")
    score = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    threshold = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    evaluator = models.CharField(max_length=200, blank=True, help_text="Who scored: a judge model, a survey.")
    external_id = models.CharField(max_length=200, blank=True, help_text="The ticket, PR or survey id.")
    url = models.URLField(max_length=1000, blank=True)
    note = models.TextField(blank=True)
    actor_user = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    actor_label = models.CharField(max_length=100, blank=True, help_text="api key prefix, source code, user")
    occurred_at = models.DateTimeField(help_text="When the source says it happened.")
    recorded_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "delivery_id"], condition=~models.Q(delivery_id=""),
                                    name="evidence_delivery_once"),
        ]
        indexes = [models.Index(fields=["outcome_event", "recorded_at"])]

    def __str__(self) -> str:
        return f"{self.method} {self.verdict} on {self.outcome_event_id}"
