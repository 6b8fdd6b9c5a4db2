"""The stand-in speaks Stripe's wire format to the real SDK: what our other tests rely on."""

import json
from pathlib import Path

import pytest
import stripe

from payments.standin import StripeStandIn, form_decode
from tests.payments.conftest import sdk

KEY = "sk_test_standin_0001"


@pytest.fixture
def client(standin: StripeStandIn) -> stripe.StripeClient:
    standin.account_add(KEY)
    return sdk(standin, KEY)


def _customer(client: stripe.StripeClient, key: str = "cus-1", name: str = "Acme") -> stripe.Customer:
    return client.v1.customers.create(params={"name": name, "metadata": {"tally_customer_id": "1"}},
                                      options={"idempotency_key": key})


def test_bracketed_form_parameters_decode_to_nested_objects_and_lists() -> None:
    decoded = form_decode([("metadata[tally_invoice_id]", "7"), ("lines[1][amount]", "5"), ("lines[0][amount]", "9"),
                           ("lines[0][metadata][k]", "v"), ("custom_fields[0][name]", "Tally")])
    assert decoded == {"metadata": {"tally_invoice_id": "7"}, "lines": [{"amount": "9", "metadata": {"k": "v"}},
                                                                        {"amount": "5"}],
                       "custom_fields": [{"name": "Tally"}]}


def test_an_idempotency_key_replays_the_first_answer(client: stripe.StripeClient, standin: StripeStandIn) -> None:
    first, again = _customer(client), _customer(client)
    assert first.id == again.id and first.id.startswith("cus_") and first.object == "customer"
    assert len(standin.objects(KEY, "customer")) == 1
    assert [entry.replayed for entry in standin.requests("POST", "/v1/customers")] == [False, True]


def test_a_key_reused_with_other_parameters_is_an_idempotency_error(client: stripe.StripeClient) -> None:
    _customer(client)
    with pytest.raises(stripe.IdempotencyError) as caught:
        _customer(client, name="Someone else")
    assert caught.value.http_status == 400
    assert "same parameters" in caught.value.user_message


def test_errors_come_in_stripes_envelope_with_its_status_codes(client: stripe.StripeClient,
                                                               standin: StripeStandIn) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.invoices.retrieve("in_missing")
    assert (missing.value.http_status, missing.value.code, missing.value.param) == (404, "resource_missing", "id")
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.v1.customers.create(params={"nmae": "typo"})  # type: ignore[arg-type]
    assert (unknown.value.http_status, unknown.value.code, unknown.value.param) == (400, "parameter_unknown", "nmae")
    assert json.loads(unknown.value.http_body or "")["error"]["type"] == "invalid_request_error"
    with pytest.raises(stripe.AuthenticationError) as refused:
        sdk(standin, "sk_test_not_an_account").v1.accounts.retrieve_current()
    assert refused.value.http_status == 401


def test_an_invoice_is_drafted_itemized_and_finalized_with_a_hosted_url(client: stripe.StripeClient) -> None:
    customer = _customer(client)
    invoice = client.v1.invoices.create(params={
        "customer": customer.id, "currency": "usd", "collection_method": "send_invoice", "days_until_due": 30,
        "auto_advance": False, "metadata": {"tally_invoice_id": "7"}})
    invoice = client.v1.invoices.add_lines(invoice.id, params={"lines": [
        {"amount": 1250, "description": "Tickets resolved"}, {"amount": -250, "description": "Credit"}]})
    assert (invoice.status, invoice.total, len(invoice.lines.data)) == ("draft", 1000, 2)
    invoice = client.v1.invoices.finalize_invoice(invoice.id)
    assert invoice.status == "open" and invoice.amount_remaining == 1000 and invoice.hosted_invoice_url
    found = client.v1.invoices.search(params={"query": "metadata['tally_invoice_id']:'7'"})
    assert [item.id for item in found.data] == [invoice.id]


def test_events_are_signed_so_the_sdk_verifies_them(client: stripe.StripeClient, standin: StripeStandIn) -> None:
    customer = _customer(client)
    body, header, event = standin.event_build(KEY, "customer.updated", standin.accounts[KEY].objects[customer.id],
                                              secret="whsec_test")
    verified = stripe.Webhook.construct_event(body, header, "whsec_test")
    assert (verified.id, verified.type, verified.data.object.id) == (event["id"], "customer.updated", customer.id)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, header, "whsec_other")


def test_every_field_the_stand_in_answers_is_in_stripes_published_objects(standin: StripeStandIn,
                                                                         client: stripe.StripeClient) -> None:
    """Checked against the top-level keys of each object in Stripe's OpenAPI fixtures (stripe_fixture_keys.json)."""
    published = json.loads((Path(__file__).parent / "stripe_fixture_keys.json").read_text())["objects"]
    customer = client.v1.customers.create(params={"name": "A", "address": {"country": "DE"},
                                                  "tax_id_data": [{"type": "eu_vat", "value": "DE123456789"}]})
    invoice = client.v1.invoices.create(params={"customer": customer.id, "collection_method": "send_invoice",
                                                "days_until_due": 30, "automatic_tax": {"enabled": True}})
    invoice = client.v1.invoices.add_lines(invoice.id, params={"lines": [{"amount": 100, "description": "x"}]})
    invoice = client.v1.invoices.finalize_invoice(invoice.id)
    note = client.v1.credit_notes.create(params={"invoice": invoice.id, "lines": [
        {"type": "custom_line_item", "unit_amount": 10, "quantity": 1, "description": "x"}]})
    calculation = client.v1.tax.calculations.create(params={
        "currency": "usd", "line_items": [{"amount": 100, "reference": "a"}],
        "customer_details": {"address": {"country": "DE"}, "address_source": "billing"}})
    _, _, event = standin.event_build(KEY, "invoice.paid", standin.accounts[KEY].objects[invoice.id], secret="w")
    answered = {
        "customer": customer.to_dict(), "invoice": invoice.to_dict(), "line_item": invoice.to_dict()["lines"]["data"][0],
        "credit_note": note.to_dict(), "tax.calculation": calculation.to_dict(), "event": event,
        "account": client.v1.accounts.retrieve_current().to_dict(), "tax_id": standin.objects(KEY, "tax_id")[0],
    }
    for name, obj in answered.items():
        assert set(obj) <= set(published[name]), (name, sorted(set(obj) - set(published[name])))
        assert obj.get("object", "line_item") == name


def test_every_parameter_the_stand_in_accepts_is_one_stripes_sdk_sends() -> None:
    """The stand-in refuses unknown parameters (400 parameter_unknown) from lists that must stay within the
    SDK's own generated parameter types (themselves generated from Stripe's OpenAPI)."""
    from stripe.params._customer_create_params import CustomerCreateParams
    from stripe.params._customer_update_params import CustomerUpdateParams
    from stripe.params._invoice_create_params import InvoiceCreateParams

    from payments.standin.resources import Resources

    assert Resources.INVOICE_FIELDS <= set(InvoiceCreateParams.__annotations__)
    assert Resources.CUSTOMER_FIELDS <= set(CustomerCreateParams.__annotations__)
    assert Resources.CUSTOMER_FIELDS - {"tax_id_data"} <= set(CustomerUpdateParams.__annotations__)
