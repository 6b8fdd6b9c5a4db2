"""Value receipts: issued on finalize, sealed (hash, chain, signature), superseded never edited, and a
tampered receipt fails verification."""

import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from billing.services.credit_notes import CreditSpec, credit_note_create
from billing.services.finalize import invoice_finalize
from tests.portal.conftest import Billed, login
from value import signing
from value.models import ValueReceipt
from value.selectors.receipts import receipt_document, receipt_verify

pytestmark = [pytest.mark.django_db]


def _finalize(billed: Billed, capture, *periods: str) -> None:
    for period in periods:
        with capture(execute=True):
            invoice_finalize(invoice=billed.invoice("acme", period))


def test_finalizing_issues_a_signed_receipt_chained_to_the_previous_one(billed: Billed, django_capture_on_commit_callbacks) -> None:
    _finalize(billed, django_capture_on_commit_callbacks, "2026-08", "2026-09")
    first, second = ValueReceipt.objects.filter(customer=billed.acme).order_by("sequence")
    assert (first.period, second.period) == ("2026-08", "2026-09")
    assert first.previous_hash == "" and second.previous_hash == first.content_hash
    content = json.loads(second.content)
    assert content["previous_hash"] == first.content_hash and content["customer"]["external_id"] == "acme"
    assert "cost_to_serve" not in second.content and "margin" not in second.content
    assert content["figures"]["invoices"][0]["number"] == billed.invoice("acme", "2026-09").number or \
        content["figures"]["invoices"][0]["number"]
    check = receipt_verify(second)
    assert check.ok and check.chain_length == 2, check.problems
    # Offline, with nothing but the downloaded document and the cryptography package.
    document = receipt_document(second)
    assert signing.sha256_hex(document["content"]) == document["content_hash"]
    assert signing.signature_valid(document["content"], signature=document["signature"],
                                   public_key=document["public_key"])
    # Issuing again with the same figures returns the same receipt.
    call_command("issue_value_receipts", organization=billed.vendor.organization.slug)
    assert ValueReceipt.objects.filter(customer=billed.acme).count() == 2


def test_a_tampered_receipt_fails_verification(billed: Billed, django_capture_on_commit_callbacks) -> None:
    _finalize(billed, django_capture_on_commit_callbacks, "2026-08", "2026-09")
    first, second = ValueReceipt.objects.filter(customer=billed.acme).order_by("sequence")
    # The guard refuses any edit.
    with pytest.raises(IntegrityError), transaction.atomic():
        ValueReceipt.objects.filter(pk=first.pk).update(content=first.content.replace("acme", "acne"))
    with pytest.raises(IntegrityError), transaction.atomic():
        ValueReceipt.objects.filter(pk=first.pk).delete()
    # Someone with the database's owner rights switches the guard off and raises the value delivered.
    content = json.loads(first.content)
    content["figures"]["value_delivered"] = str(Decimal(content["figures"]["value_delivered"]) * 10)
    forged = signing.canonical_json(content)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE needs no pending checks
        cursor.execute("ALTER TABLE value_valuereceipt DISABLE TRIGGER USER")
        cursor.execute("UPDATE value_valuereceipt SET content = %s WHERE id = %s", [forged, first.pk])
        cursor.execute("ALTER TABLE value_valuereceipt ENABLE TRIGGER USER")
    first.refresh_from_db()
    check = receipt_verify(first)
    assert not check.ok and not check.hash_ok
    # Recomputing the hash too does not help: the signature no longer matches, and the next receipt's link breaks.
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE needs no pending checks
        cursor.execute("ALTER TABLE value_valuereceipt DISABLE TRIGGER USER")
        cursor.execute("UPDATE value_valuereceipt SET content_hash = %s WHERE id = %s",
                       [signing.sha256_hex(forged), first.pk])
        cursor.execute("ALTER TABLE value_valuereceipt ENABLE TRIGGER USER")
    first.refresh_from_db()
    check = receipt_verify(first)
    assert check.hash_ok and not check.signature_ok and not check.ok
    later = receipt_verify(second)
    assert not later.chain_ok and any("link" in problem for problem in later.problems)
    # The share page says so to an outsider.
    page = login(billed.vendor.admin).get(f"/value/receipts/share/{first.share_token}/")
    assert page.status_code == 200 and b"does not verify" in page.content


def test_amending_a_period_issues_a_superseding_receipt(billed: Billed, django_capture_on_commit_callbacks) -> None:
    _finalize(billed, django_capture_on_commit_callbacks, "2026-08")
    original = ValueReceipt.objects.get(customer=billed.acme)
    invoice = billed.invoice("acme", "2026-08")
    line = invoice.lines.filter(kind="outcome").order_by("position").first()
    assert line is not None
    credit_note_create(invoice=invoice, reason="ticket reopened",
                       items=[CreditSpec(amount=line.amount, description="reopened", invoice_line=line)])
    call_command("issue_value_receipts", organization=billed.vendor.organization.slug)
    amended = ValueReceipt.objects.filter(customer=billed.acme).order_by("-sequence").first()
    assert amended is not None and amended.pk != original.pk
    assert amended.supersedes_id == original.pk and amended.reason == ValueReceipt.Reason.AMENDED
    assert json.loads(amended.content)["supersedes"] == original.content_hash
    assert Decimal(json.loads(amended.content)["figures"]["billed"]) < Decimal(json.loads(original.content)["figures"]["billed"])
    original.refresh_from_db()  # unchanged: still verifies, now superseded
    assert receipt_verify(original).ok and receipt_verify(amended).ok
