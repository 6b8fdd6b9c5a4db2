from datetime import date
from decimal import Decimal
from typing import Any, Literal, overload

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.expressions import Combinable

from accounts.models import Customer, Organization
from outcomes.fields import SameOrganizationForeignKey

# What may be assigned to a decimal field: never a float (money is exact).
_DecimalIn = Decimal | int | Combinable


@overload
def money_field(*, null: Literal[True], **options: Any) -> "models.DecimalField[_DecimalIn | None, Decimal | None]": ...
@overload
def money_field(*, null: Literal[False] = ..., **options: Any) -> "models.DecimalField[_DecimalIn, Decimal]": ...
def money_field(**options: Any) -> "models.DecimalField[Any, Any]":
    """An amount: six decimals keep unit prices finer than the minor unit (0.0025) exact."""
    return models.DecimalField(max_digits=20, decimal_places=6, **options)


@overload
def cost_field(*, null: Literal[True], **options: Any) -> "models.DecimalField[_DecimalIn | None, Decimal | None]": ...
@overload
def cost_field(*, null: Literal[False] = ..., **options: Any) -> "models.DecimalField[_DecimalIn, Decimal]": ...
def cost_field(**options: Any) -> "models.DecimalField[Any, Any]":
    """A cost to serve: twelve decimals, as rates price a single token."""
    return models.DecimalField(max_digits=30, decimal_places=12, **options)


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

    def __str__(self) -> str:
        return f"run {self.pk} {self.period} ({self.status})"

    @property
    def period(self) -> str:
        return self.period_start.strftime("%Y-%m")

class BillingRunChunk(models.Model):
    """Some customers of a run, reconciled by one Celery task. A chunk is counted in its run's progress
    once, when `done_at` is first set, however often its task is delivered; the reaper sends again the
    chunks of a run that stopped moving."""

    run = models.ForeignKey(BillingRun, on_delete=models.CASCADE, related_name="chunks")
    position = models.PositiveIntegerField()
    customer_ids = ArrayField(models.BigIntegerField())
    sent_at = models.DateTimeField(help_text="When its task was last sent to the workers.")
    sends = models.PositiveIntegerField(default=1)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "position"], name="one_chunk_per_run_position")]

    def __str__(self) -> str:
        return f"chunk {self.position} of run {self.run_id}"


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
    number = models.CharField(max_length=32, null=True, blank=True)  # noqa: DJ001 - NULL until finalized; unique
    currency = models.CharField(max_length=3)
    subtotal = money_field(default=0)
    credits_applied = money_field(default=0)
    total = money_field(default=0)
    price_book = models.ForeignKey("PriceBook", on_delete=models.PROTECT, null=True, blank=True)
    tax_total = money_field(
        default=0, help_text="Tax of all rates; exclusive rates add theirs to the total. Frozen with the invoice."
    )
    tax_note = models.CharField(max_length=300, blank=True,
                                help_text="Printed with the tax: reverse charge or exemption, set with the tax.")
    amount_paid = money_field(default=0, help_text="Sum of the invoice's payments (InvoicePayment).")
    payment_url = models.URLField(max_length=1000, blank=True, help_text="Where the customer pays, once a link exists.")
    issue_date = models.DateField(null=True, blank=True, help_text="Set when finalized.")
    due_date = models.DateField(null=True, blank=True, help_text="Issue date plus the payment terms.")
    bill_from = models.JSONField(default=dict, blank=True, help_text="The seller as issued (frozen at finalize).")
    bill_to = models.JSONField(default=dict, blank=True, help_text="The buyer as issued (frozen at finalize).")
    paid_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    cutoff = models.DateTimeField(help_text="Events received after this are not in this version.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finalized_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "period_start"], name="one_invoice_per_customer_period"),
            models.UniqueConstraint(fields=["organization", "number"], name="invoice_number_unique"),
            # Legal transitions (draft → finalized → paid | void) are held by a trigger (migration 0007).
            models.CheckConstraint(
                condition=models.Q(status__in=["draft", "finalized", "paid", "void"]), name="invoice_status_known"
            ),
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

    @property
    def amount_due(self) -> Decimal:
        """What is left to pay: the total (tax included) less what was paid; nothing for a void invoice."""
        if self.status == self.Status.VOID:
            return Decimal(0)
        return self.total - self.amount_paid

    def is_overdue(self, today: date) -> bool:
        """Past its due date with something left to pay."""
        return (self.status == self.Status.FINALIZED and self.due_date is not None and today > self.due_date
                and self.amount_due > 0)


class InvoiceTax(models.Model):
    """One tax rate's amount on an invoice, computed on its summary lines at reconciliation and frozen
    with the invoice (a database trigger refuses changes once it is not a draft)."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT)
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="taxes")
    position = models.PositiveSmallIntegerField()
    tax_rate = models.ForeignKey("TaxRate", on_delete=models.PROTECT, null=True, blank=True,
                                 help_text="Blank when an external calculator supplied the tax.")
    name = models.CharField(max_length=100)
    jurisdiction = models.CharField(max_length=100, blank=True)
    rate = models.DecimalField(max_digits=7, decimal_places=4, help_text="Percent, e.g. 19.0000.")
    inclusive = models.BooleanField(default=False)
    taxable_amount = money_field()
    amount = money_field(help_text="Rounded once to the currency's minor unit.")

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["invoice", "position"], name="invoice_tax_position_unique")]

    def __str__(self) -> str:
        return f"{self.name} {self.rate}% on {self.invoice_id}"


class InvoicePayment(models.Model):
    """Append-only: one payment received against an invoice. `reference` (a Stripe payment intent, a
    bank transfer id) makes recording idempotent: the same (invoice, source, reference) is kept once."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    amount = money_field()
    currency = models.CharField(max_length=3)
    paid_at = models.DateTimeField()
    source = models.CharField(max_length=32, help_text="manual, stripe, bank_transfer …")
    reference = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["invoice", "source", "reference"], condition=~models.Q(reference=""),
                                    name="invoice_payment_reference_once"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} on {self.invoice_id} ({self.source})"


class TaxRate(models.Model):
    """A tax the organization charges: applied to a customer assigned to it, or else to every standard
    customer of its country (and region, when the rate names one)."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="tax_rates")
    name = models.CharField(max_length=100, help_text="Printed on the invoice: VAT, Sales tax …")
    jurisdiction = models.CharField(max_length=100, blank=True,
                                    help_text="Printed with the name: Germany, California …")
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2 code of the customers it applies to.")
    region = models.CharField(max_length=100, blank=True,
                              help_text="Only customers of this region; blank: the whole country.")
    percentage = models.DecimalField(max_digits=7, decimal_places=4)
    inclusive = models.BooleanField(default=False, help_text="Prices already include this tax.")
    active = models.BooleanField(default=True, help_text="Inactive rates apply to no new draft.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(percentage__gte=0, percentage__lte=100),
                                   name="tax_rate_percentage_range"),
        ]
        indexes = [models.Index(fields=["organization", "country"])]

    def __str__(self) -> str:
        return f"{self.name} {self.percentage.normalize():f}%"


class CustomerTaxRate(models.Model):
    """A rate assigned to a customer: assigned rates replace the country/region match for it."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="tax_rate_assignments")
    tax_rate = models.ForeignKey(TaxRate, on_delete=models.CASCADE, related_name="assignments")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "tax_rate"], name="customer_tax_rate_unique")]

    def __str__(self) -> str:
        return f"{self.tax_rate_id} for {self.customer_id}"


class InvoiceLine(models.Model):
    class Kind(models.TextChoices):
        OUTCOME = "outcome", "Outcome"
        PLATFORM_FEE = "platform_fee", "Platform fee"
        MINIMUM_COMMIT = "minimum_commit", "Minimum commit"
        USAGE_OVERAGE = "usage_overage", "Usage overage"
        CREDIT = "credit", "Credit"
        PREPAID = "prepaid_credit", "Prepaid credit"

    # Lines are written a million at a time: only the indexes that reads use are kept. Lines are
    # read by invoice (the (invoice, position) index), by outcome event and by credited line.
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, db_index=False)
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines", db_index=False)
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.OUTCOME)
    task_id = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001 - fees have no task
    outcome_type = models.ForeignKey(
        "outcomes.OutcomeType", on_delete=models.PROTECT, null=True, blank=True, db_index=False
    )
    # The constraint is the composite (organization_id, outcome_event_id) of billing 0014: a line and its
    # event are of one organization, and the event table is keyed by organization (Citus).
    outcome_event = SameOrganizationForeignKey("outcomes.OutcomeEvent", on_delete=models.PROTECT, null=True,
                                               blank=True, db_constraint=False)
    service_period_start = models.DateField(help_text="The period the line's event belongs to.")
    description = models.CharField(max_length=300)
    quantity = models.DecimalField(max_digits=20, decimal_places=6)
    unit_price = money_field()
    amount = money_field(help_text="Rounded once to the currency's minor unit.")
    cost = cost_field(null=True, blank=True, help_text="The task's cost to serve.")
    cost_currency = models.CharField(max_length=3, blank=True)
    credited_line = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, db_index=False, related_name="credits",
        help_text="For a credit: the finalized line it reverses.",
    )
    usage_quantity = models.DecimalField(max_digits=38, decimal_places=12, null=True, blank=True)
    meter = models.ForeignKey("metering.Meter", on_delete=models.PROTECT, null=True, blank=True, db_index=False)
    note = models.CharField(max_length=60, blank=True, help_text="How the line was priced: included, tier 2, …")

    class Meta:
        ordering = ["position"]
        indexes = [
            models.Index(fields=["invoice", "position"]),
            models.Index(fields=["credited_line"], condition=models.Q(credited_line__isnull=False),
                         name="invoiceline_credited_partial"),
            models.Index(fields=["meter"], condition=models.Q(meter__isnull=False), name="invoiceline_meter_partial"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id}#{self.position} {self.description}"


class InvoiceLineGroup(models.Model):
    """An invoice's lines summed as its summary reads them: per kind, service period, outcome type, meter,
    price tier (packages as one) and unit price, the lines' count, quantity and amount, where they start
    and end and the first description. Kept by a statement trigger on billing_invoiceline (migration
    0012) from the same COPY or DELETE that writes the lines, so a million-line invoice is summed once,
    when it is written, not on every page that shows it (billing.selectors.document, billing.selectors.roi)."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, db_index=False)
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="line_groups", db_index=False)
    kind = models.CharField(max_length=20, choices=InvoiceLine.Kind.choices)
    service_period_start = models.DateField()
    outcome_type = models.ForeignKey("outcomes.OutcomeType", on_delete=models.PROTECT, null=True, db_index=False)
    meter = models.ForeignKey("metering.Meter", on_delete=models.PROTECT, null=True, db_index=False)
    tier = models.CharField(max_length=60, help_text="The lines' note, \"package\" for every package.")
    unit_price = money_field()
    line_count = models.BigIntegerField()
    quantity = models.DecimalField(max_digits=38, decimal_places=6)
    amount = models.DecimalField(max_digits=38, decimal_places=6)
    first_position = models.PositiveIntegerField()
    last_position = models.PositiveIntegerField()
    description = models.CharField(max_length=300, help_text="The least of the lines' descriptions.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "kind", "service_period_start", "outcome_type", "meter", "tier", "unit_price"],
                name="invoice_line_group_unique", nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} {self.kind} ×{self.line_count}"


class InvoiceTaskTotal(models.Model):
    """Per invoice, service period and cost currency: the tasks of its outcome lines and their cost, each
    task once at the most its lines carry. Kept by the same trigger as InvoiceLineGroup; the ROI figures
    correct it live for the few tasks whose lines are no longer standing or span several invoices."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, db_index=False)
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="task_totals", db_index=False)
    service_period_start = models.DateField()
    cost_currency = models.CharField(max_length=3, blank=True)
    tasks = models.BigIntegerField()
    cost = models.DecimalField(max_digits=40, decimal_places=12)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["invoice", "service_period_start", "cost_currency"],
                                    name="invoice_task_total_unique")
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} {self.service_period_start} {self.tasks} tasks"


class RoiReport(models.Model):
    """Per customer and period: what the customer got for its money and what it cost the vendor."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="roi_reports")
    period_start = models.DateField()
    currency = models.CharField(max_length=3)
    outcomes = models.JSONField(default=dict)
    value_delivered = money_field()
    billed = money_field()
    cost_to_serve = cost_field()
    cost_currency = models.CharField(max_length=3, blank=True)
    unbilled_cost = cost_field()
    tasks = models.PositiveIntegerField(default=0)
    unbilled_tasks = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "period_start"], name="one_roi_per_period")]

    def __str__(self) -> str:
        return f"ROI {self.customer_id} {self.period_start:%Y-%m}"


class PriceBook(models.Model):
    """What one customer pays, from a period on. Versioned: a period is priced by the latest version
    whose `effective_from` (a period start) is at or before the period."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="price_books")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="price_books")
    version = models.PositiveIntegerField()
    effective_from = models.DateField(help_text="First day of the first period this version prices.")
    currency = models.CharField(max_length=3)
    platform_fee = money_field(default=0)
    included_outcomes = models.PositiveIntegerField(default=0, help_text="Outcomes free each period.")
    minimum_commit = money_field(default=0)
    spend_cap = money_field(null=True, blank=True, help_text="Hard cap on outcome and usage charges.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "version"], name="price_book_version_unique"),
            models.UniqueConstraint(fields=["customer", "effective_from"], name="price_book_effective_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} v{self.version} from {self.effective_from:%Y-%m}"


class PriceBookEntry(models.Model):
    """The price of one outcome type in a price book."""

    class Model(models.TextChoices):
        FLAT = "flat", "Flat per outcome"
        GRADUATED = "graduated", "Graduated tiers"
        VOLUME = "volume", "Volume tiers"
        PACKAGE = "package", "Package"

    price_book = models.ForeignKey(PriceBook, on_delete=models.CASCADE, related_name="entries")
    outcome_type = models.ForeignKey("outcomes.OutcomeType", on_delete=models.PROTECT)
    model = models.CharField(max_length=16, choices=Model.choices, default=Model.FLAT)
    unit_price = money_field(null=True, blank=True)
    tiers = models.JSONField(default=list, blank=True, help_text='[{"up_to": 100, "unit_price": "1.00"}, '
                             '{"up_to": null, "unit_price": "0.80", "flat_fee": "0"}]')
    package_size = models.PositiveIntegerField(null=True, blank=True)
    package_price = money_field(null=True, blank=True)
    assumed_price_factor = models.DecimalField(
        max_digits=5, decimal_places=4, null=True, blank=True,
        help_text="Price by assurance: the share of the price an assumed outcome (verified by silence, not "
                  "confirmed by evidence) pays, 0.8 = 80%. Empty: confirmed and assumed pay the same.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["price_book", "outcome_type"], name="price_book_entry_unique"),
            models.CheckConstraint(
                condition=models.Q(assumed_price_factor__isnull=True)
                | models.Q(assumed_price_factor__gte=0, assumed_price_factor__lte=1),
                name="assumed_price_factor_0_to_1",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.outcome_type_id} {self.model}"


class PriceBookMeter(models.Model):
    """Optional usage overage for hybrid plans: quantity above `included_quantity` is charged."""

    price_book = models.ForeignKey(PriceBook, on_delete=models.CASCADE, related_name="meter_prices")
    meter = models.ForeignKey("metering.Meter", on_delete=models.PROTECT)
    unit_price = money_field()
    per = models.DecimalField(max_digits=30, decimal_places=6, default=1)
    included_quantity = models.DecimalField(max_digits=38, decimal_places=12, default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["price_book", "meter"], name="price_book_meter_unique")]

    def __str__(self) -> str:
        return f"{self.meter_id} {self.unit_price}/{self.per}"


class DocumentSequence(models.Model):
    """Gapless numbering per organization: one row per kind, locked while a number is taken."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT)
    kind = models.CharField(max_length=16)
    last_value = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "kind"], name="sequence_unique")]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.kind} {self.last_value}"


class CreditGrant(models.Model):
    """Prepaid credits in a customer's wallet. The balance is the sum of its ledger entries."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="credit_grants")
    amount = money_field()
    currency = models.CharField(max_length=3)
    priority = models.PositiveSmallIntegerField(default=100, help_text="Lower is drawn down first.")
    granted_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    description = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} for {self.customer_id}"


class CreditLedgerEntry(models.Model):
    """Append-only: a grant (+), a drawdown by a finalized invoice (-), or an expiry (-)."""

    class Kind(models.TextChoices):
        GRANT = "grant"
        DRAWDOWN = "drawdown"
        EXPIRY = "expiry"
        REFUND = "refund"  # a voided invoice gives its drawdown back

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT)
    grant = models.ForeignKey(CreditGrant, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount = money_field()
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["grant", "invoice"], condition=models.Q(kind="drawdown"),
                                    name="one_drawdown_per_grant_invoice"),
            models.UniqueConstraint(fields=["grant"], condition=models.Q(kind="expiry"), name="one_expiry_per_grant"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"


class CreditNote(models.Model):
    """A correction of a finalized invoice: its own gapless sequence; never edits the invoice."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="credit_notes")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    number = models.CharField(max_length=32)
    currency = models.CharField(max_length=3)
    total = money_field()
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "number"], name="credit_note_number_unique")]

    def __str__(self) -> str:
        return self.number


class CreditNoteLine(models.Model):
    credit_note = models.ForeignKey(CreditNote, on_delete=models.CASCADE, related_name="lines")
    invoice_line = models.ForeignKey(InvoiceLine, on_delete=models.PROTECT, null=True, blank=True)
    # No database constraint: the event table's key is (organization_id, id) and this table has no
    # organization_id to reference it by. The credit note service takes the event from the credited
    # invoice line, whose own key to the event is composite (billing 0014).
    outcome_event = models.ForeignKey("outcomes.OutcomeEvent", on_delete=models.PROTECT, null=True, blank=True,
                                      db_constraint=False)
    description = models.CharField(max_length=300)
    amount = money_field(help_text="Positive: the amount credited.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["outcome_event"], condition=models.Q(outcome_event__isnull=False),
                                    name="outcome_credited_once_by_note")
        ]

    def __str__(self) -> str:
        return f"{self.credit_note_id} {self.description}"


class Notification(models.Model):
    """Something the vendor and the customer should know (spend-cap alerts), ready for outbound webhooks."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="notifications")
    kind = models.CharField(max_length=40)
    period_start = models.DateField()
    message = models.CharField(max_length=300)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "period_start", "kind"], name="notification_once_per_period")
        ]
        indexes = [models.Index(fields=["organization", "created_at"])]

    def __str__(self) -> str:
        return self.message

