"""A customer-scoped API key reads its own customer's billing documents and nothing else."""

from decimal import Decimal

import pytest

from accounts.services import api_key_create
from billing.services.finalize import invoice_finalize
from tests.billing.scenario import outcomes, post_outcomes, reconcile
from tests.conftest import ApiClient
from tests.factories import CustomerFactory, OutcomeTypeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_customers(vendor):
    OutcomeTypeFactory.create(organization=vendor.organization, price=Decimal("1.00"))
    other = CustomerFactory.create(organization=vendor.organization, external_id="globex")
    for customer in (vendor.customer, other):
        post_outcomes(vendor.organization, outcomes(customer, 2, prefix=f"{customer.external_id}-"))
    mine, theirs = reconcile(vendor.customer), reconcile(other)
    invoice_finalize(invoice=mine)
    _, raw_key = api_key_create(organization=vendor.organization, customer=vendor.customer)
    return ApiClient(raw_key), mine, theirs


def test_customer_key_reads_its_own_documents(two_customers) -> None:
    api, mine, _ = two_customers
    assert [i["id"] for i in api.get("/api/v1/invoices").json()] == [mine.pk]
    assert api.get(f"/api/v1/invoices/{mine.pk}").json()["number"] == "INV-000001"
    assert api.get("/api/v1/customers/acme/roi", period="2026-10").json()["billed"] == "2.00"
    assert api.get("/api/v1/customers/acme").status_code == 200
    assert api.get("/api/v1/customers/acme/wallet").status_code == 200
    assert api.get("/api/v1/notifications").status_code == 200


def test_customer_key_sees_no_other_customer(two_customers) -> None:
    api, _, theirs = two_customers
    assert api.get(f"/api/v1/invoices/{theirs.pk}").status_code == 404
    assert api.get("/api/v1/invoices", customer="globex").status_code == 404
    assert api.get("/api/v1/customers/globex").status_code == 404
    assert api.get("/api/v1/customers/globex/roi", period="2026-10").status_code == 404


def test_customer_key_cannot_write_or_list_the_organization(two_customers) -> None:
    api, mine, _ = two_customers
    assert api.get("/api/v1/customers").status_code == 403
    refused = api.post("/api/v1/usage-events", {"events": []})
    assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied")
    assert api.post("/api/v1/outcome-events", {"events": []}).status_code == 403
    assert api.post("/api/v1/billing-runs", {"period": "2026-10"}).status_code == 403
    assert api.post(f"/api/v1/invoices/{mine.pk}/void").status_code == 403
    assert api.get("/api/v1/disputes").status_code == 403


VENDOR_ONLY = {"cost", "cost_currency", "cost_to_serve", "cost_of_billed_tasks", "margin", "margin_rate",
               "unbilled_cost", "unbilled_tasks", "cost_per_outcome"}


def keys_in(answer: object) -> set[str]:
    """Every key anywhere in a JSON answer."""
    if isinstance(answer, dict):
        return set(answer) | {key for value in answer.values() for key in keys_in(value)}
    if isinstance(answer, list):
        return {key for value in answer for key in keys_in(value)}
    return set()


def test_customer_key_answers_carry_no_cost_or_margin_anywhere(two_customers, vendor) -> None:
    api, mine, _ = two_customers
    answers = {
        path: api.get(path, **params)
        for path, params in [
            ("/api/v1/invoices", {}),
            (f"/api/v1/invoices/{mine.pk}", {}),
            ("/api/v1/customers/acme/roi", {"period": "2026-10"}),
            ("/api/v1/customers/acme", {}),
            ("/api/v1/customers/acme/wallet", {}),
            ("/api/v1/credit-notes", {}),
            ("/api/v1/notifications", {}),
        ]
    }
    for path, response in answers.items():
        assert response.status_code == 200, path
        assert not keys_in(response.json()) & VENDOR_ONLY, path
    assert answers[f"/api/v1/invoices/{mine.pk}"].json()["lines"]  # lines are there, without their cost


def test_the_vendor_key_reads_the_cost_and_margin_the_customer_key_does_not(two_customers, vendor) -> None:
    api, mine, _ = two_customers
    roi = vendor.api.get("/api/v1/customers/acme/roi", period="2026-10").json()
    invoice = vendor.api.get(f"/api/v1/invoices/{mine.pk}").json()

    assert {"cost_to_serve", "cost_of_billed_tasks", "unbilled_cost", "margin", "cost_per_outcome"} <= set(roi)
    assert all({"cost", "cost_currency"} <= set(line) for line in invoice["lines"])
    # the figures both may read are the same
    theirs = api.get("/api/v1/customers/acme/roi", period="2026-10").json()
    assert theirs == {key: value for key, value in roi.items() if key not in VENDOR_ONLY}
