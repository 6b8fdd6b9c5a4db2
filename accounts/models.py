from django.contrib.auth.models import AbstractUser
from django.db import models

# ISO 3166-1 alpha-2 country codes and the first-level subdivision (state, province) as free text:
# tax rates match a customer by (country, region), region blank meaning the whole country.
COUNTRY_HELP = "ISO 3166-1 alpha-2 code, e.g. DE, US."
REGION_HELP = "State, province or region as written in tax rates (e.g. CA for California); blank for none."


class Address(models.Model):
    """Postal address columns shared by the vendor's billing profile and a customer's billing details."""

    address_line1 = models.CharField(max_length=200, blank=True)
    address_line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    region = models.CharField(max_length=100, blank=True, help_text=REGION_HELP)
    country = models.CharField(max_length=2, blank=True, help_text=COUNTRY_HELP)

    class Meta:
        abstract = True

    @property
    def address_lines(self) -> list[str]:
        """The address as printed on an invoice, empty parts left out."""
        place = " ".join(part for part in [self.postal_code, self.city] if part)
        tail = ", ".join(part for part in [place, self.region] if part)
        return [line for line in [self.address_line1, self.address_line2, tail, self.country] if line]


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


class BillingProfile(Address):
    """The organization as it appears on its invoices: the seller's party, terms and printed texts.
    Kept apart from Organization so the logo's bytes are read only by the documents that print it."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, primary_key=True, related_name="billing_profile"
    )
    legal_name = models.CharField(max_length=200, blank=True, help_text="Printed as the seller; the name if blank.")
    tax_id = models.CharField(max_length=64, blank=True, help_text="VAT number, EIN, ABN …")
    email = models.EmailField(blank=True, help_text="Where customers write about invoices.")
    logo = models.BinaryField(blank=True, default=b"", editable=True, help_text="PNG or JPEG, at most 512 KB.")
    logo_content_type = models.CharField(max_length=32, blank=True)
    logo_url = models.URLField(max_length=500, blank=True, help_text="Shown on the web page when no logo is uploaded.")
    payment_terms_days = models.PositiveSmallIntegerField(
        default=30, help_text="Net days: an invoice is due this many days after it is issued."
    )
    memo = models.TextField(blank=True, help_text="Printed under the summary of every invoice.")
    footer = models.TextField(blank=True, help_text="Printed at the foot of every invoice.")
    payment_instructions = models.TextField(blank=True, help_text="Bank details or how to pay.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.legal_name or str(self.organization_id)


class Customer(Address):
    """An account the organization bills, known by the organization's own external_id."""

    class TaxStatus(models.TextChoices):
        STANDARD = "standard", "Standard: the rates of its country/region or those assigned"
        EXEMPT = "exempt", "Exempt: no tax"
        REVERSE_CHARGE = "reverse_charge", "Reverse charge: the customer accounts for the tax"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="customers")
    external_id = models.CharField(max_length=200)
    name = models.CharField(max_length=200)
    currency = models.CharField(max_length=3)
    email = models.EmailField(blank=True)
    billing_name = models.CharField(max_length=200, blank=True, help_text="Printed as the buyer; the name if blank.")
    billing_email = models.EmailField(blank=True, help_text="Where invoices go; the email if blank.")
    tax_id = models.CharField(max_length=64, blank=True)
    tax_status = models.CharField(max_length=16, choices=TaxStatus.choices, default=TaxStatus.STANDARD)
    tax_exemption_reference = models.CharField(
        max_length=200, blank=True, help_text="Certificate or legal reference printed on an exempt invoice."
    )
    payment_terms_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Net days for this customer; the organization's terms if blank."
    )
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
