from datetime import date

from django.db import models

from accounts.models import Customer, Organization
from outcomes.models import OutcomeEvent, OutcomeType

MONEY = {"max_digits": 20, "decimal_places": 6}
COST = {"max_digits": 30, "decimal_places": 12}


class BillingRun(models.Model):
    """One request to reconcile a period, for one customer or all of an organization's customers."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="billing_runs")
    period_start = models.DateField()
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    customers_total = models.PositiveIntegerField(default=0)
    customers_done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    @property
    def period(self) -> str:
        return self.period_start.strftime("%Y-%m")


class Invoice(models.Model):
    """draft (refreshed by runs) → finalized (numbered, frozen) → paid | void."""

    class Status(models.TextChoices):
        DRAFT = "draft"
        FINALIZED = "finalized"
        PAID = "paid"
        VOID = "void"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="invoices")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="invoices")
    period_start = models.DateField()
    period_end = models.DateField(help_text="Exclusive: the first day of the next period.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    number = models.CharField(max_length=32, null=True, blank=True)
    currency = models.CharField(max_length=3)
    subtotal = models.DecimalField(**MONEY, default=0)
    total = models.DecimalField(**MONEY, default=0)
    cutoff = models.DateTimeField(help_text="Events received after this are not in this version.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finalized_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "period_start"], name="one_invoice_per_customer_period"),
            models.UniqueConstraint(fields=["organization", "number"], name="invoice_number_unique"),
        ]
        indexes = [models.Index(fields=["organization", "period_start"])]

    def __str__(self) -> str:
        return self.number or f"draft {self.customer_id} {self.period}"

    @property
    def period(self) -> str:
        return self.period_start.strftime("%Y-%m")

    @property
    def is_frozen(self) -> bool:
        return self.status != self.Status.DRAFT


class InvoiceLine(models.Model):
    class Kind(models.TextChoices):
        OUTCOME = "outcome"
        PLATFORM_FEE = "platform_fee"
        MINIMUM_COMMIT = "minimum_commit"
        USAGE_OVERAGE = "usage_overage"
        CREDIT = "credit"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT)
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.OUTCOME)
    task_id = models.CharField(max_length=200, null=True, blank=True)
    outcome_type = models.ForeignKey(OutcomeType, on_delete=models.PROTECT, null=True, blank=True)
    outcome_event = models.ForeignKey(OutcomeEvent, on_delete=models.PROTECT, null=True, blank=True)
    service_period_start = models.DateField(help_text="The period the line's event belongs to.")
    description = models.CharField(max_length=300)
    quantity = models.DecimalField(max_digits=20, decimal_places=6)
    unit_price = models.DecimalField(**MONEY)
    amount = models.DecimalField(**MONEY, help_text="Rounded once to the currency's minor unit.")
    cost = models.DecimalField(**COST, null=True, blank=True, help_text="The task's cost to serve.")
    cost_currency = models.CharField(max_length=3, blank=True)

    class Meta:
        ordering = ["position"]
        indexes = [models.Index(fields=["invoice", "position"]), models.Index(fields=["outcome_event"])]


class RoiReport(models.Model):
    """Per customer and period: what the customer got for its money and what it cost the vendor."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="roi_reports")
    period_start = models.DateField()
    currency = models.CharField(max_length=3)
    outcomes = models.JSONField(default=dict)
    value_delivered = models.DecimalField(**MONEY)
    billed = models.DecimalField(**MONEY)
    cost_to_serve = models.DecimalField(**COST)
    cost_currency = models.CharField(max_length=3, blank=True)
    unbilled_cost = models.DecimalField(**COST)
    tasks = models.PositiveIntegerField(default=0)
    unbilled_tasks = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "period_start"], name="one_roi_per_period")]


def period_label(day: date) -> str:
    return day.strftime("%Y-%m")
