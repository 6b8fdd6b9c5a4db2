"""The value pages: baselines (vendor proposes, customer approves), receipts (list, detail, share link,
JSON and PDF), the simulator and the efficiency report; each scoped, another party gets 404 or 403."""

import json
from decimal import Decimal

import pytest
from django.test import Client

from billing.services.finalize import invoice_finalize
from core.periods import period_parse
from tests.conftest import Vendor
from tests.portal.conftest import Billed, login
from value import signing
from value.models import Baseline, ValueReceipt
from value.services.baselines import BaselineSpec, baseline_propose

pytestmark = [pytest.mark.django_db]


def _receipts(billed: Billed, capture) -> tuple[ValueReceipt, ValueReceipt]:
    with capture(execute=True):
        invoice_finalize(invoice=billed.invoice("acme", "2026-09"))
        invoice_finalize(invoice=billed.invoice("globex", "2026-09"))
    return (ValueReceipt.objects.get(customer=billed.acme), ValueReceipt.objects.get(customer=billed.globex))


def test_vendor_proposes_and_the_customer_approves_in_the_portal(billed: Billed, finance_user, globex_finance) -> None:
    vendor = login(billed.vendor.admin)
    response = vendor.post("/value/baselines/propose/", {
        "customer": "acme", "outcome": "ticket_resolved", "effective_from": "2026-09", "method": "minutes",
        "minutes": "30", "hourly_cost": "50.00", "note": "Tier-1 agent, fully loaded"})
    assert response.status_code == 302
    baseline = Baseline.objects.get()
    assert baseline.value_per_outcome == Decimal(25) and baseline.status == "proposed"
    page = login(finance_user).get("/value/baselines/")
    assert b"Approve" in page.content and b"Tier-1 agent" in page.content
    # Another customer's user and the vendor cannot decide it.
    assert login(globex_finance).post(f"/value/baselines/{baseline.pk}/decide/", {"decision": "approve"}).status_code == 404
    assert vendor.post(f"/value/baselines/{baseline.pk}/decide/", {"decision": "approve"}).status_code == 403
    assert b"Tier-1" not in login(globex_finance).get("/value/baselines/").content
    login(finance_user).post(f"/value/baselines/{baseline.pk}/decide/", {"decision": "approve"})
    baseline.refresh_from_db()
    assert baseline.status == "approved" and baseline.decided_by == finance_user
    # A bad proposal says which field.
    bad = vendor.post("/value/baselines/propose/", {"customer": "acme", "outcome": "ticket_resolved",
                                                    "effective_from": "2026-9", "method": "flat", "flat_value": "3"},
                      follow=True)
    assert b"effective_from" in bad.content and Baseline.objects.count() == 1


def test_receipts_are_scoped_and_the_share_link_opens_for_anyone(billed: Billed, finance_user, stranger: Vendor,
                                                                  django_capture_on_commit_callbacks) -> None:
    acme, globex = _receipts(billed, django_capture_on_commit_callbacks)
    mine = login(finance_user)
    assert b"2026-09" in mine.get("/value/receipts/").content
    assert mine.get(f"/value/receipts/{acme.pk}/").status_code == 200
    assert mine.get(f"/value/receipts/{globex.pk}/").status_code == 404
    assert login(stranger.admin).get(f"/value/receipts/{acme.pk}/").status_code == 404
    assert b"Globex" not in mine.get("/value/receipts/").content
    outsider = Client()
    page = outsider.get(f"/value/receipts/share/{acme.share_token}/")
    assert page.status_code == 200 and b"Verified" in page.content and acme.content_hash.encode() in page.content
    assert outsider.get("/value/receipts/share/not-the-token/").status_code == 404
    document = json.loads(outsider.get(f"/value/receipts/share/{acme.share_token}/receipt.json").content)
    assert signing.signature_valid(document["content"], signature=document["signature"],
                                   public_key=document["public_key"])
    pdf = outsider.get(f"/value/receipts/share/{acme.share_token}/receipt.pdf")
    assert pdf.content.startswith(b"%PDF") and pdf["Content-Type"] == "application/pdf"
    api = billed.vendor.api.get(f"/api/v1/receipts/{acme.pk}").json()
    assert api["verification"]["ok"] is True and api["content_hash"] == acme.content_hash
    assert stranger.api.get(f"/api/v1/receipts/{acme.pk}").status_code == 404


def test_receipt_list_query_count_does_not_grow(billed: Billed, finance_user, django_capture_on_commit_callbacks,
                                                django_assert_max_num_queries) -> None:
    _receipts(billed, django_capture_on_commit_callbacks)
    client = login(billed.vendor.admin)
    with django_assert_max_num_queries(8):
        client.get("/value/receipts/")
    with django_capture_on_commit_callbacks(execute=True):
        invoice_finalize(invoice=billed.invoice("acme", "2026-10"))
    with django_assert_max_num_queries(8):
        assert client.get("/value/receipts/").status_code == 200


def test_simulator_and_efficiency_pages_are_the_vendors(billed: Billed, finance_user) -> None:
    vendor = login(billed.vendor.admin)
    page = vendor.get("/value/simulator/", {"customer": "acme", "period": ["2026-09", "2026-10"],
                                            "token_markup": "0.3"})
    assert page.status_code == 200 and b"Side by side" in page.content and b"<svg" in page.content
    assert b"token_markup" in vendor.get("/value/simulator/", {"token_markup": "-1"}).content
    assert login(finance_user).get("/value/simulator/").status_code == 403
    efficiency = vendor.get("/value/efficiency/", {"period": ["2026-09"]})
    assert efficiency.status_code == 200 and b"globex-secret-2026-09" in efficiency.content  # the outlier
    csv = vendor.get("/value/efficiency.csv", {"period": ["2026-09"]}).content.decode("utf-8-sig")
    api = billed.vendor.api.get("/api/v1/efficiency", periods="2026-09").json()
    for row in api[0]["types"]:
        assert f"{row['period']},{row['outcome_type']},{row['outcomes']},{row['tasks']}," in csv
        assert row["cost_per_outcome"] in csv
    assert login(finance_user).get("/value/efficiency/").status_code == 403
    assert vendor.get("/value/efficiency.csv", {"period": ["nope"]}).status_code == 400


def test_customer_user_sees_no_cost_on_value_pages(billed: Billed, finance_user,
                                                   django_capture_on_commit_callbacks) -> None:
    acme, _ = _receipts(billed, django_capture_on_commit_callbacks)
    client = login(finance_user)
    for url in ("/value/baselines/", "/value/receipts/", f"/value/receipts/{acme.pk}/"):
        text = client.get(url).content.decode().lower()
        assert "cost to serve" not in text and "margin" not in text.split("<main>")[-1].replace("margin:", "")



def test_baseline_page_query_count_does_not_grow(billed: Billed, django_assert_max_num_queries) -> None:
    client = login(billed.vendor.admin)
    def spec(month: str) -> BaselineSpec:
        return BaselineSpec(effective_from=period_parse(month), outcome="ticket_resolved", method="flat",
                            currency="USD", flat_value=Decimal(5))

    baseline_propose(customer=billed.acme, spec=spec("2026-08"))
    with django_assert_max_num_queries(10) as first:
        assert client.get("/value/baselines/").status_code == 200
    for month in ("2026-09", "2026-10"):
        baseline_propose(customer=billed.globex, spec=spec(month))
    with django_assert_max_num_queries(len(first.captured_queries)):
        assert client.get("/value/baselines/").status_code == 200
