"""Billing settings pages: a vendor admin edits the billing profile (logo included), tax rates and a
customer's billing details and assigned rates; what they save is what the next draft prints. Customer
users and vendor members get 403, another organization 404."""

import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from accounts.models import BillingProfile, Customer
from billing.models import CustomerTaxRate, TaxRate
from tests.conftest import Vendor
from tests.factories import CustomerFactory
from tests.portal.conftest import login

pytestmark = pytest.mark.django_db


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (10, 5), "teal").save(buffer, format="PNG")
    return buffer.getvalue()


def test_the_admin_saves_the_billing_profile_with_a_logo(vendor: Vendor) -> None:
    client = login(vendor.admin)
    assert client.get(reverse("portal:billing-settings")).status_code == 200

    response = client.post(reverse("portal:billing-settings"), {
        "legal_name": "Vendor Labs GmbH", "address_line1": "Weg 1", "city": "Berlin", "country": "de",
        "tax_id": "DE811111111", "payment_terms_days": "45", "memo": "Thanks", "footer": "HRB 1",
        "payment_instructions": "IBAN DE00", "logo_upload": SimpleUploadedFile("logo.png", _png(), "image/png"),
    })

    assert response.status_code == 302
    profile = BillingProfile.objects.get(organization=vendor.organization)
    assert (profile.legal_name, profile.country, profile.payment_terms_days) == ("Vendor Labs GmbH", "DE", 45)
    assert bytes(profile.logo) == _png() and profile.logo_content_type == "image/png"
    assert 'href="/settings/billing/"' in client.get(reverse("portal:billing-settings")).content.decode()


def test_a_logo_that_is_no_image_is_refused_naming_the_field(vendor: Vendor) -> None:
    response = login(vendor.admin).post(reverse("portal:billing-settings"), {
        "payment_terms_days": "30", "logo_upload": SimpleUploadedFile("logo.png", b"not an image", "image/png"),
    })
    assert response.status_code == 400 and "not a readable image" in response.content.decode()
    assert not BillingProfile.objects.filter(organization=vendor.organization, logo_content_type="image/png").exists()


def test_tax_rates_are_added_and_retired(vendor: Vendor, stranger: Vendor) -> None:
    client = login(vendor.admin)
    response = client.post(reverse("portal:tax-rate-new"), {"name": "VAT", "jurisdiction": "Germany",
                                                            "country": "de", "region": "", "percentage": "19"})
    assert response.status_code == 302
    rate = TaxRate.objects.get(organization=vendor.organization)
    assert (rate.country, rate.percentage, rate.active) == ("DE", Decimal("19"), True)

    bad = client.post(reverse("portal:tax-rate-new"), {"name": "X", "country": "DE", "percentage": "120"})
    assert bad.status_code == 400 and "0 to 100" in bad.content.decode()

    client.post(reverse("portal:tax-rate-edit", args=[rate.pk]), {
        "name": "VAT", "jurisdiction": "Germany", "country": "DE", "region": "", "percentage": "7", "active": "",
    })
    rate.refresh_from_db()
    assert (rate.percentage, rate.active) == (Decimal("7"), False)
    assert login(stranger.admin).get(reverse("portal:tax-rate-edit", args=[rate.pk])).status_code == 404


def test_customer_billing_details_and_assigned_rates(vendor: Vendor, stranger: Vendor) -> None:
    rate = TaxRate.objects.create(organization=vendor.organization, name="VAT", country="DE", percentage=19)
    client = login(vendor.admin)
    url = reverse("portal:customer-billing", args=["acme"])

    response = client.post(url, {"billing_name": "Acme GmbH", "country": "DE", "tax_status": "reverse_charge",
                                 "tax_id": "DE999", "payment_terms_days": "14", "tax_rates": [rate.pk]})

    assert response.status_code == 302
    acme = Customer.objects.get(pk=vendor.customer.pk)
    assert (acme.billing_name, acme.tax_status, acme.payment_terms_days) == ("Acme GmbH", "reverse_charge", 14)
    assert list(CustomerTaxRate.objects.filter(customer=acme).values_list("tax_rate_id", flat=True)) == [rate.pk]
    CustomerFactory.create(organization=vendor.organization, external_id="initech")
    assert login(stranger.admin).get(reverse("portal:customer-billing", args=["initech"])).status_code == 404


def test_only_vendor_admins_reach_billing_settings(vendor: Vendor, finance_user, vendor_member) -> None:
    for user in (finance_user, vendor_member):
        client = login(user)
        assert client.get(reverse("portal:billing-settings")).status_code == 403
        assert client.get(reverse("portal:customer-billing", args=["acme"])).status_code == 403
