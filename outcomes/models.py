from datetime import timedelta

from django.db import models

from accounts.models import Customer, Organization, User
from outcomes.enums import OutcomeStatus


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
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "code"], name="outcome_type_code_unique"),
            models.CheckConstraint(condition=models.Q(price__gte=0), name="outcome_price_not_negative"),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def verification_window(self) -> timedelta:
        return timedelta(hours=self.verification_window_hours)


class OutcomeEvent(models.Model):
    """A claim that an outcome happened for a task. The row is the claim; its history is OutcomeTransition."""

    Status = OutcomeStatus  # defined beside the models' module so other apps compare statuses without them

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT)
    outcome_type = models.ForeignKey(OutcomeType, on_delete=models.PROTECT)
    task_id = models.CharField(max_length=200)
    timestamp = models.DateTimeField()
    properties = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(max_length=200)
    received_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    verifiable_at = models.DateTimeField(help_text="timestamp + the type's verification window")
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversal_reason = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "idempotency_key"], name="outcome_event_key_unique")
        ]
        indexes = [
            models.Index(fields=["customer", "timestamp"]),
            models.Index(fields=["customer", "task_id"]),
            models.Index(fields=["status", "verifiable_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.outcome_type_id}:{self.task_id} ({self.status})"

    @property
    def is_reversed(self) -> bool:
        return self.reversed_at is not None


class OutcomeTransition(models.Model):
    """Append-only history of an outcome event's status: who moved it, when, and why."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT)
    outcome_event = models.ForeignKey(OutcomeEvent, on_delete=models.PROTECT, related_name="transitions")
    from_status = models.CharField(max_length=16)
    to_status = models.CharField(max_length=16)
    reason = models.TextField(blank=True)
    actor_user = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True)
    actor_label = models.CharField(max_length=100, blank=True, help_text="api key prefix or 'system'")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["outcome_event", "created_at"])]

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status}"


class Dispute(models.Model):
    """A customer's challenge of one outcome; the outcome is held out of billing while it is open."""

    class Status(models.TextChoices):
        OPEN = "open"
        ACCEPTED = "accepted"
        REJECTED = "rejected"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT)
    outcome_event = models.ForeignKey(OutcomeEvent, on_delete=models.PROTECT, related_name="disputes")
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
