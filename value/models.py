"""Value the customer agrees to: baselines (versioned, proposed by the vendor, approved by the customer),
sealed value receipts (hash-chained, signed), the organization's signing keys, and margin guardrails."""

from django.db import models

from accounts.models import Customer, Organization, User
from billing.models import money_field


class Baseline(models.Model):
    """What one outcome of a type is worth to one customer: its own cost of doing it by hand.

    A version is never edited (a database trigger holds it, migration 0002): a change is a new version.
    The baseline in force for a period is the latest version, not declined, whose `effective_from` is at
    or before the period's start; whether it was approved or only proposed is shown wherever it is used.
    """

    class Method(models.TextChoices):
        MINUTES = "minutes", "Minutes × loaded hourly cost"
        FLAT = "flat", "Flat value per outcome"

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed by the vendor"
        APPROVED = "approved", "Approved by the customer"
        DECLINED = "declined", "Declined by the customer"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="baselines")
    outcome_type = models.ForeignKey("outcomes.OutcomeType", on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField(help_text="1, 2, … per customer and outcome type.")
    effective_from = models.DateField(help_text="First day of the first period this version values.")
    method = models.CharField(max_length=16, choices=Method.choices)
    minutes = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    hourly_cost = money_field(null=True, blank=True, help_text="Loaded cost of one hour of the customer's staff.")
    flat_value = money_field(null=True, blank=True)
    value_per_outcome = money_field(help_text="minutes / 60 × hourly_cost, or flat_value: exact, never rounded.")
    currency = models.CharField(max_length=3)
    note = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROPOSED)
    proposed_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    proposed_by_label = models.CharField(max_length=100, blank=True)
    proposed_at = models.DateTimeField()
    decided_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    decided_by_label = models.CharField(max_length=100, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "outcome_type", "version"], name="baseline_version_unique"),
            models.CheckConstraint(condition=models.Q(value_per_outcome__gte=0), name="baseline_value_not_negative"),
            models.CheckConstraint(
                condition=(models.Q(method="minutes", minutes__isnull=False, hourly_cost__isnull=False)
                           | models.Q(method="flat", flat_value__isnull=False)),
                name="baseline_method_has_its_inputs",
            ),
        ]
        indexes = [models.Index(fields=["customer", "outcome_type", "effective_from"])]

    def __str__(self) -> str:
        return f"baseline v{self.version} {self.outcome_type_id} for {self.customer_id} ({self.status})"

    @property
    def is_approved(self) -> bool:
        return self.status == self.Status.APPROVED


class SigningKey(models.Model):
    """An organization's Ed25519 public key. The private key is never stored: it is derived from the
    server's signing secret, the organization and the key's version (value.signing)."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField(default=1)
    key_id = models.CharField(max_length=64, unique=True, help_text="ed25519:<first 16 hex of SHA-256(public key)>")
    public_key = models.CharField(max_length=64, help_text="The raw 32-byte public key, base64.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "version"], name="signing_key_version_unique")]

    def __str__(self) -> str:
        return self.key_id


class ValueReceipt(models.Model):
    """A sealed snapshot of one customer's finalized period: outcomes, value (with the baselines used),
    billed and ROI. `content` is canonical JSON; `content_hash` its SHA-256; the content names the
    previous receipt's hash (the customer's chain) and `signature` signs the content with the
    organization's key. Never updated nor deleted (a trigger refuses it): an amended period gets a new
    receipt that supersedes this one."""

    class Reason(models.TextChoices):
        FINALIZED = "finalized", "Period finalized"
        AMENDED = "amended", "Period amended"
        ISSUED = "issued", "Issued on request"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="value_receipts")
    period_start = models.DateField()
    sequence = models.PositiveIntegerField(help_text="1, 2, … per customer: the position in its chain.")
    reason = models.CharField(max_length=16, choices=Reason.choices)
    supersedes = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )
    content = models.TextField(help_text="Canonical JSON: sorted keys, no spaces, UTF-8.")
    content_hash = models.CharField(max_length=64, unique=True)
    previous_hash = models.CharField(max_length=64, blank=True)
    signature = models.CharField(max_length=100, help_text="Ed25519 over the content bytes, base64.")
    signing_key = models.ForeignKey(SigningKey, on_delete=models.PROTECT, related_name="receipts")
    share_token = models.CharField(max_length=64, unique=True)
    issued_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "sequence"], name="receipt_sequence_unique"),
        ]
        indexes = [models.Index(fields=["customer", "period_start"])]

    def __str__(self) -> str:
        return f"receipt {self.customer_id} {self.period_start:%Y-%m} #{self.sequence}"

    @property
    def period(self) -> str:
        return self.period_start.strftime("%Y-%m")


class MarginGuardrail(models.Model):
    """A ceiling on one task's cost to serve as a share of its outcome's price (0.30: 30%)."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT)
    outcome_type = models.OneToOneField("outcomes.OutcomeType", on_delete=models.PROTECT, related_name="+")
    max_cost_share = models.DecimalField(max_digits=6, decimal_places=4)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(max_cost_share__gt=0), name="guardrail_share_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.outcome_type_id} ≤ {self.max_cost_share}"


class BudgetAlert(models.Model):
    """A task that crossed its type's guardrail: recorded once per task and outcome type."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    task_id = models.CharField(max_length=200)
    outcome_type = models.ForeignKey("outcomes.OutcomeType", on_delete=models.PROTECT, related_name="+")
    cost = models.DecimalField(max_digits=30, decimal_places=12)
    ceiling = money_field()
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "task_id", "outcome_type"], name="budget_alert_once"),
        ]
        indexes = [models.Index(fields=["organization", "created_at"])]

    def __str__(self) -> str:
        return f"{self.task_id} over budget"
