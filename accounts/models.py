from django.contrib.auth.models import AbstractUser
from django.db import models


class Organization(models.Model):
    """A vendor using the platform: the tenant. Every other row belongs to exactly one."""

    class ReversalCredit(models.TextChoices):
        NEXT_INVOICE = "next_invoice", "Credit line on the next invoice"
        CREDIT_NOTE = "credit_note", "Credit note at once"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    invoice_grace_days = models.PositiveSmallIntegerField(
        default=3, help_text="Days after a period ends before its invoices are finalized."
    )
    reversal_credit_mode = models.CharField(
        max_length=16, choices=ReversalCredit.choices, default=ReversalCredit.NEXT_INVOICE,
        help_text="How an outcome reversed or disputed after it was billed is credited.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Customer(models.Model):
    """An account the organization bills, known by the organization's own external_id."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="customers")
    external_id = models.CharField(max_length=200)
    name = models.CharField(max_length=200)
    currency = models.CharField(max_length=3)
    email = models.EmailField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "external_id"], name="customer_external_id_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.external_id})"


class User(AbstractUser):
    """A person who logs into the portal: a vendor user, or a finance user of one customer."""

    class Role(models.TextChoices):
        VENDOR_ADMIN = "vendor_admin", "Vendor admin"
        VENDOR_MEMBER = "vendor_member", "Vendor member"
        CUSTOMER_FINANCE = "customer_finance", "Customer finance"

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="users"
    )
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, null=True, blank=True, related_name="users")
    role = models.CharField(max_length=32, choices=Role.choices, default=Role.VENDOR_MEMBER)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(role="customer_finance") | models.Q(customer__isnull=False),
                name="customer_user_has_customer",
            )
        ]

    @property
    def is_vendor(self) -> bool:
        return self.organization_id is not None and self.role != self.Role.CUSTOMER_FINANCE


class ApiKey(models.Model):
    """An organization's API key. Only its SHA-256 is stored; the key is shown once, at creation."""

    class Scope(models.TextChoices):
        INGEST = "ingest", "Ingest: posts usage and outcome events, nothing else"
        READ = "read", "Read: reads everything, writes nothing"
        ADMIN = "admin", "Admin: everything, including configuration"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, default="default")
    prefix = models.CharField(max_length=16, help_text="First characters, to recognise a key in lists.")
    key_hash = models.CharField(max_length=64, unique=True)
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, null=True, blank=True, related_name="api_keys",
        help_text="A customer key reads only that customer's invoices, ROI, notifications and credits.",
    )
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.ADMIN)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Written at most once a minute per key (accounts.api.authentication), never once per request.
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(customer__isnull=True) | models.Q(scope="read"),
                name="customer_api_key_reads_only",
            )
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.organization.slug})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
