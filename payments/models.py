"""Collection through Stripe: an organization's connection, the Stripe customer of each of its customers,
the push of each finalized invoice and credit note, and the Stripe events received.

Secrets are stored encrypted (core.crypto) and shown only as hints (`sk_test_…abcd`).
"""

from django.db import models

from accounts.models import Customer, Organization
from billing.models import CreditNote, Invoice


class StripeAccount(models.Model):
    """An organization's own Stripe account, connected on the console's Stripe page."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, primary_key=True, related_name="stripe_account"
    )
    secret_key_encrypted = models.TextField(help_text="Fernet token of the secret (or restricted) key.")
    secret_key_hint = models.CharField(max_length=40, help_text="The key's kind and last four characters.")
    webhook_secret_encrypted = models.TextField(blank=True, help_text="Fernet token of the endpoint's signing secret.")
    webhook_secret_hint = models.CharField(max_length=40, blank=True)
    account_id = models.CharField(max_length=64, blank=True, help_text="acct_… as Stripe answered the key check.")
    account_name = models.CharField(max_length=200, blank=True)
    livemode = models.BooleanField(default=False)
    automatic_tax = models.BooleanField(
        default=False, help_text="Stripe Tax computes the tax of new invoices instead of the organization's rates."
    )
    api_base = models.URLField(
        blank=True, help_text="Blank: Stripe itself. Set by code only, for the demo's Stripe stand-in.",
    )
    connected_at = models.DateTimeField()
    checked_at = models.DateTimeField(help_text="When the key last answered a check.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Stripe {self.account_id or '?'} of {self.organization_id}"


class StripeCustomer(models.Model):
    """The Stripe customer a customer of ours became when first invoiced."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="stripe_customer")
    stripe_id = models.CharField(max_length=64)
    account_id = models.CharField(max_length=64, blank=True, help_text="The Stripe account it lives in.")
    synced_hash = models.CharField(max_length=64, help_text="Of the fields last sent, to skip unchanged updates.")
    synced_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.stripe_id


class PushStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PUSHED = "pushed", "Pushed"
    FAILED = "failed", "Failed"


class InvoicePush(models.Model):
    """A finalized invoice on its way to, and then in, Stripe: our side of the sync and Stripe's last word."""

    class RemoteStatus(models.TextChoices):
        NONE = "", "Not in Stripe"
        DRAFT = "draft", "Draft"
        OPEN = "open", "Open"
        PAID = "paid", "Paid"
        VOID = "void", "Void"
        UNCOLLECTIBLE = "uncollectible", "Uncollectible"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    invoice = models.OneToOneField(Invoice, on_delete=models.CASCADE, related_name="stripe_push")
    status = models.CharField(max_length=16, choices=PushStatus.choices, default=PushStatus.PENDING)
    automatic_tax = models.BooleanField(default=False, help_text="Stripe Tax on, as when the push was queued.")
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, help_text="Stripe's message when the last attempt failed.")
    last_error_code = models.CharField(max_length=64, blank=True)
    stripe_customer_id = models.CharField(max_length=64, blank=True)
    stripe_invoice_id = models.CharField(max_length=64, blank=True)
    stripe_number = models.CharField(max_length=64, blank=True)
    hosted_invoice_url = models.URLField(max_length=1000, blank=True)
    remote_status = models.CharField(max_length=16, choices=RemoteStatus.choices, blank=True, default="")
    remote_total = models.BigIntegerField(null=True, blank=True, help_text="Minor units, as Stripe last said.")
    remote_amount_paid = models.BigIntegerField(null=True, blank=True, help_text="Minor units.")
    remote_amount_remaining = models.BigIntegerField(null=True, blank=True, help_text="Minor units.")
    booked_amount_paid = models.BigIntegerField(
        default=0, help_text="Minor units of Stripe's amount paid already recorded as payments of ours.",
    )
    remote_event_at = models.DateTimeField(null=True, blank=True, help_text="Created time of the last event applied.")
    payment_failed_at = models.DateTimeField(null=True, blank=True)
    payment_failure = models.CharField(max_length=500, blank=True)
    remote_note = models.CharField(
        max_length=500, blank=True, help_text="Something Stripe did that our rules did not follow (a void).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    pushed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "stripe_invoice_id"],
                                    condition=~models.Q(stripe_invoice_id=""), name="one_push_per_stripe_invoice"),
        ]
        indexes = [models.Index(fields=["organization", "status"])]

    def __str__(self) -> str:
        return f"push of invoice {self.invoice_id}: {self.status}"


class CreditNotePush(models.Model):
    """A credit note of ours on its way to Stripe, as a Stripe credit note on the pushed invoice."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    credit_note = models.OneToOneField(CreditNote, on_delete=models.CASCADE, related_name="stripe_push")
    status = models.CharField(max_length=16, choices=PushStatus.choices, default=PushStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_error_code = models.CharField(max_length=64, blank=True)
    stripe_credit_note_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    pushed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"push of credit note {self.credit_note_id}: {self.status}"


class StripeEvent(models.Model):
    """Each Stripe event received, once: a replay finds its row and changes nothing."""

    class Outcome(models.TextChoices):
        APPLIED = "applied", "Applied"
        IGNORED = "ignored", "Ignored"
        REFUSED = "refused", "Recorded, not applied"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    event_id = models.CharField(max_length=100)
    type = models.CharField(max_length=100)
    created = models.DateTimeField(help_text="When Stripe created the event.")
    invoice = models.ForeignKey(Invoice, on_delete=models.SET_NULL, null=True, blank=True)
    stripe_object_id = models.CharField(max_length=100, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    message = models.CharField(max_length=500, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "event_id"], name="stripe_event_once")]
        indexes = [models.Index(fields=["organization", "received_at"])]

    def __str__(self) -> str:
        return f"{self.event_id} {self.type}"
