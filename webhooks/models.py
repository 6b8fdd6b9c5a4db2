"""The outbox of announced events, the vendor's endpoints, and each event's delivery to each endpoint."""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from accounts.models import Organization
from core.crypto import secret_decrypt, secret_encrypt


class OutboxEvent(models.Model):
    """One announced change, written in the transaction that made it (the transactional outbox).

    `event_id` is sent as the `webhook-id` header and in the body: it is the same on every attempt and
    every resend, so a receiver dedupes on it. `relayed_at` stays null until the relay has made this
    event's deliveries; a crash between the commit and the relay leaves the row for the next sweep.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    event_id = models.CharField(max_length=40, unique=True)
    type = models.CharField(max_length=64)
    data = models.JSONField()
    # An event announced at most once (an invoice turning overdue): emitting again with the key is a no-op.
    once_key = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    relayed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "once_key"], condition=~models.Q(once_key=""),
                                    name="webhook_event_once_key_unique"),
        ]
        indexes = [
            # The relay's queue: only the rows not yet relayed, so it stays small however long the log grows.
            models.Index(fields=["id"], condition=models.Q(relayed_at__isnull=True), name="webhook_event_unrelayed"),
            models.Index(fields=["organization", "type", "-created_at"], name="webhook_event_org_type"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class WebhookEndpoint(models.Model):
    """A URL of the vendor's that receives the event types it subscribes to, signed with its secret."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    events = ArrayField(models.CharField(max_length=64))
    # The Standard Webhooks signing secret ("whsec_" + base64 of 24 random bytes), shown once at creation.
    # The signature needs the key itself, not a hash: it is stored encrypted (core.crypto), read through
    # `secret`.
    secret_encrypted = models.TextField(help_text="Fernet token of the signing secret (core.crypto).")
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "enabled"], name="webhook_endpoint_org_enabled")]

    def __str__(self) -> str:
        return self.url

    @property
    def secret(self) -> str:
        return secret_decrypt(self.secret_encrypted, what="webhook signing secret",
                              remedy="delete the endpoint and subscribe it again", field="secret")

    @secret.setter
    def secret(self, value: str) -> None:
        self.secret_encrypted = secret_encrypt(value)


class WebhookDelivery(models.Model):
    """One event to one endpoint: its state and when the next attempt is due.

    One row per (endpoint, event), so relaying twice sends nothing twice. An attempt claims the row by
    moving `next_attempt_at` past its own timeout (a lease): a worker killed mid-attempt leaves the row
    due again once the lease runs out, and the sweep sends it again with the same event id.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Who may make the next attempt: set by the dispatcher when it queues one, replaced by the attempt that
    # claims it. A queued task whose token is stale (sent twice, or outlived by a newer dispatch) does nothing.
    lease_token = models.CharField(max_length=32, blank=True, default="")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="webhook_delivery_endpoint_event_unique"),
        ]
        indexes = [
            # The dispatcher's queue: pending rows by due time.
            models.Index(fields=["next_attempt_at"], condition=models.Q(status="pending"),
                         name="webhook_delivery_due"),
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_endpoint"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} -> {self.endpoint_id} ({self.status})"


class DeliveryAttempt(models.Model):
    """One HTTP request of a delivery: the log a vendor reads when an endpoint misbehaves."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField()
    succeeded = models.BooleanField()
    response_excerpt = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["delivery", "number"], name="webhook_attempt_delivery")]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"
