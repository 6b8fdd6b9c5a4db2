"""The Stripe resources the stand-in keeps (customers and their tax ids, invoices and their lines,
credit notes, tax calculations, search) and the checks Stripe makes on their parameters."""

import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from payments.standin.wire import Json, StripeError, allowed, as_bool, as_int, metadata_merge, public

# One term of Stripe's search language as we use it: metadata['key']:'value' or field:'value', joined by AND.
_SEARCH_TERM = re.compile(
    r"""(metadata\[['"](?P<key>[^'"]+)['"]\]|(?P<field>[a-z_]+))\s*:\s*['"](?P<value>[^'"]*)['"]"""
)



@dataclass
class Account:
    api_key: str
    id: str
    name: str
    country: str = "US"
    webhook_url: str | None = None
    webhook_secret: str | None = None
    objects: dict[str, Json] = field(default_factory=dict)
    idempotency: dict[str, tuple[str, int, bytes]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)


class Resources:
    """Stripe's side of each call; the server (payments.standin) routes requests here."""

    # Sales tax or VAT the stand-in's "Stripe Tax" charges by the customer's country (percent).
    TAX_RATES = {"US": Decimal("8.875"), "DE": Decimal("19"), "FR": Decimal("20"), "GB": Decimal("20")}
    clock: Callable[[], float]

    @property
    def url(self) -> str:
        raise NotImplementedError

    # -- resources ---------------------------------------------------------------------------------------

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_{secrets.token_urlsafe(18).replace('-', 'A').replace('_', 'B')[:24]}"

    def _get(self, account: Account, object_id: str, kind: str, params: Json) -> Json:
        allowed(params, {"expand"})
        obj = account.objects.get(object_id)
        if obj is None or obj["object"] != kind:
            raise StripeError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param="id")
        return public(obj)

    def _invoice(self, account: Account, invoice_id: str) -> Json:
        invoice = account.objects.get(invoice_id)
        if invoice is None or invoice["object"] != "invoice":
            raise StripeError(404, f"No such invoice: '{invoice_id}'", code="resource_missing", param="invoice")
        return invoice

    def _account(self, account: Account, params: Json) -> Json:
        allowed(params, {"expand"})
        return {"id": account.id, "object": "account", "country": account.country, "default_currency": "usd",
                "charges_enabled": True, "details_submitted": True, "email": None, "type": "standard",
                "business_profile": {"name": account.name}, "settings": {"dashboard": {"display_name": account.name}},
                "metadata": {}, "created": int(self.clock())}

    def _balance(self, params: Json) -> Json:
        allowed(params, {"expand"})
        return {"object": "balance", "available": [{"amount": 0, "currency": "usd"}], "livemode": False,
                "pending": [{"amount": 0, "currency": "usd"}]}

    CUSTOMER_FIELDS = {"name", "email", "address", "metadata", "tax_exempt", "preferred_locales", "description",
                       "tax_id_data", "expand", "phone", "tax"}

    def _customer_create(self, account: Account, params: Json) -> Json:
        allowed(params, self.CUSTOMER_FIELDS)
        customer: Json = {
            "id": self._new_id("cus"), "object": "customer", "address": None, "balance": 0,
            "created": int(self.clock()), "currency": None, "email": None, "livemode": False, "metadata": {},
            "name": None, "tax_exempt": "none", "preferred_locales": [], "invoice_prefix": secrets.token_hex(4).upper(),
            "delinquent": False, "description": None, "phone": None,
        }
        account.objects[customer["id"]] = customer
        self._customer_apply(customer, params)
        for datum in params.get("tax_id_data") or []:
            self._tax_id_create(account, customer["id"], datum)
        return public(customer)

    def _customer_update(self, account: Account, customer_id: str, params: Json) -> Json:
        allowed(params, self.CUSTOMER_FIELDS - {"tax_id_data"})
        customer = account.objects.get(customer_id)
        if customer is None or customer["object"] != "customer":
            raise StripeError(404, f"No such customer: '{customer_id}'", code="resource_missing", param="id")
        self._customer_apply(customer, params)
        return public(customer)

    def _customer_apply(self, customer: Json, params: Json) -> None:
        for key in ("name", "email", "description", "phone"):
            if key in params:
                customer[key] = params[key] or None
        if "address" in params:
            address = params["address"] or None
            if address is not None:
                allowed(address, {"line1", "line2", "city", "state", "postal_code", "country"}, prefix="address")
                address = {key: address.get(key) or None
                           for key in ("city", "country", "line1", "line2", "postal_code", "state")}
            customer["address"] = address
        if "tax_exempt" in params:
            if params["tax_exempt"] not in {"none", "exempt", "reverse"}:
                raise StripeError(400, "Invalid tax_exempt: must be one of none, exempt, or reverse",
                                  code="parameter_invalid_string", param="tax_exempt")
            customer["tax_exempt"] = params["tax_exempt"]
        if "metadata" in params:
            customer["metadata"] = metadata_merge(customer["metadata"], params["metadata"])

    def _tax_id_create(self, account: Account, customer_id: str, params: Json) -> Json:
        allowed(params, {"type", "value", "expand"})
        if customer_id not in account.objects:
            raise StripeError(404, f"No such customer: '{customer_id}'", code="resource_missing", param="customer")
        for name in ("type", "value"):
            if not params.get(name):
                raise StripeError(400, f"Missing required param: {name}.", code="parameter_missing", param=name)
        tax_id = {"id": self._new_id("txi"), "object": "tax_id", "customer": customer_id, "type": params["type"],
                  "value": params["value"], "country": params["value"][:2].upper(), "created": int(self.clock()),
                  "livemode": False, "verification": {"status": "pending", "verified_name": None,
                                                      "verified_address": None}}
        account.objects[tax_id["id"]] = tax_id
        return tax_id

    def _tax_id_list(self, account: Account, customer_id: str, params: Json) -> Json:
        allowed(params, {"limit", "expand", "starting_after", "ending_before"})
        data = [obj for obj in account.objects.values() if obj["object"] == "tax_id" and obj["customer"] == customer_id]
        return {"object": "list", "data": data, "has_more": False, "url": f"/v1/customers/{customer_id}/tax_ids"}

    INVOICE_FIELDS = {"customer", "currency", "collection_method", "days_until_due", "due_date", "auto_advance",
                      "description", "custom_fields", "metadata", "automatic_tax", "pending_invoice_items_behavior",
                      "footer", "expand", "number", "effective_at", "rendering"}

    def _invoice_create(self, account: Account, params: Json) -> Json:
        allowed(params, self.INVOICE_FIELDS)
        customer = account.objects.get(params.get("customer", ""))
        if customer is None or customer["object"] != "customer":
            if not params.get("customer"):
                raise StripeError(400, "Missing required param: customer.", code="parameter_missing", param="customer")
            raise StripeError(400, f"No such customer: '{params['customer']}'", code="resource_missing",
                              param="customer")
        method = params.get("collection_method", "charge_automatically")
        if method == "send_invoice" and not (params.get("days_until_due") or params.get("due_date")):
            raise StripeError(400, "Missing required param: days_until_due or due_date for send_invoice invoices.",
                              code="parameter_missing", param="days_until_due")
        automatic_tax = as_bool(params.get("automatic_tax", {}).get("enabled", "false"), "automatic_tax[enabled]")
        if automatic_tax and not (customer.get("address") or {}).get("country"):
            raise StripeError(400, "The customer's location isn't recognized. Please provide a valid address "
                              "to calculate tax.", code="customer_tax_location_invalid", param="customer")
        custom_fields = params.get("custom_fields") or None
        for index, custom in enumerate(custom_fields or []):
            allowed(custom, {"name", "value"}, prefix=f"custom_fields[{index}]")
            if len(custom.get("name", "")) > 40 or len(custom.get("value", "")) > 140:
                raise StripeError(400, "Custom field names are 40 characters at most and values 140.",
                                  code="parameter_invalid_string_too_long", param=f"custom_fields[{index}]")
        now = int(self.clock())
        invoice: Json = {
            "id": self._new_id("in"), "object": "invoice", "account_country": account.country,
            "account_name": account.name, "amount_due": 0, "amount_paid": 0, "amount_remaining": 0,
            "attempt_count": 0, "attempted": False, "auto_advance": as_bool(params.get("auto_advance", "false"),
                                                                          "auto_advance"),
            "automatic_tax": {"enabled": automatic_tax, "liability": {"type": "self"} if automatic_tax else None,
                              "status": "complete" if automatic_tax else None,
                              "disabled_reason": None, "provider": "stripe" if automatic_tax else None},
            "billing_reason": "manual", "collection_method": method, "created": now,
            "currency": params.get("currency", "usd").lower(), "custom_fields": custom_fields,
            "customer": customer["id"], "customer_address": customer.get("address"),
            "customer_email": customer.get("email"), "customer_name": customer.get("name"),
            "customer_tax_exempt": customer.get("tax_exempt", "none"),
            "customer_tax_ids": [{"type": obj["type"], "value": obj["value"]} for obj in account.objects.values()
                                 if obj["object"] == "tax_id" and obj["customer"] == customer["id"]],
            "description": params.get("description"), "due_date": None, "effective_at": None,
            "footer": params.get("footer"), "hosted_invoice_url": None, "invoice_pdf": None, "livemode": False,
            "metadata": metadata_merge({}, params.get("metadata", {})), "number": None, "status": "draft",
            "status_transitions": {"finalized_at": None, "marked_uncollectible_at": None, "paid_at": None,
                                   "voided_at": None},
            "subtotal": 0, "subtotal_excluding_tax": 0, "total": 0, "total_excluding_tax": 0, "total_taxes": [],
            "next_payment_attempt": None, "webhooks_delivered_at": now,
            "_days_until_due": as_int(params.get("days_until_due") or 0, "days_until_due"),
            "_due_date": as_int(params["due_date"], "due_date") if params.get("due_date") else None, "_lines": [],
        }
        account.objects[invoice["id"]] = invoice
        return public(invoice)

    def _invoice_add_lines(self, account: Account, invoice_id: str, params: Json) -> Json:
        allowed(params, {"lines", "expand", "invoice_metadata"})
        invoice = self._invoice(account, invoice_id)
        if invoice["status"] != "draft":
            raise StripeError(400, "You can only add lines to a draft invoice.", code="invoice_not_editable")
        lines = params.get("lines")
        if not isinstance(lines, list) or not lines:
            raise StripeError(400, "Missing required param: lines.", code="parameter_missing", param="lines")
        for index, line in enumerate(lines):
            allowed(line, {"amount", "description", "metadata", "period", "quantity", "discountable"},
                     prefix=f"lines[{index}]")
            if "amount" not in line:
                raise StripeError(400, f"Missing required param: lines[{index}][amount].",
                                  code="parameter_missing", param=f"lines[{index}][amount]")
            amount = as_int(line["amount"], f"lines[{index}][amount]")
            invoice["_lines"].append({
                "id": self._new_id("il"), "object": "line_item", "amount": amount, "currency": invoice["currency"],
                "description": line.get("description"), "discountable": True, "invoice": invoice["id"],
                "livemode": False, "metadata": metadata_merge({}, line.get("metadata", {})),
                "period": {"start": invoice["created"], "end": invoice["created"]},
                "quantity": int(line.get("quantity", 1)), "taxes": [],
            })
        self._totals(account, invoice)
        return public(invoice)

    def _invoice_lines(self, account: Account, invoice_id: str, params: Json) -> Json:
        allowed(params, {"limit", "starting_after", "ending_before", "expand"})
        lines = self._invoice(account, invoice_id)["_lines"]
        if params.get("starting_after"):
            ids = [line["id"] for line in lines]
            lines = lines[ids.index(params["starting_after"]) + 1:] if params["starting_after"] in ids else []
        limit = as_int(params.get("limit", "10"), "limit")
        return {"object": "list", "data": lines[:limit], "has_more": len(lines) > limit,
                "url": f"/v1/invoices/{invoice_id}/lines"}

    def _totals(self, account: Account, invoice: Json) -> None:
        subtotal = sum(line["amount"] for line in invoice["_lines"])
        tax = 0
        if invoice["automatic_tax"]["enabled"] and invoice["customer_tax_exempt"] == "none":
            country = (invoice.get("customer_address") or {}).get("country") or ""
            rate = self.TAX_RATES.get(country, Decimal(0))
            tax = int((Decimal(subtotal) * rate / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
            invoice["total_taxes"] = [{"amount": tax, "tax_behavior": "exclusive", "taxable_amount": subtotal,
                                       "taxability_reason": "standard_rated", "type": "tax_rate_details",
                                       "tax_rate_details": {"tax_rate": f"txr_{country or 'none'}"}}] if rate else []
        invoice["subtotal"] = invoice["subtotal_excluding_tax"] = invoice["total_excluding_tax"] = subtotal
        invoice["total"] = subtotal + tax
        invoice["amount_due"] = max(invoice["total"], 0)
        invoice["amount_remaining"] = invoice["amount_due"] - invoice["amount_paid"]

    def _invoice_finalize(self, account: Account, invoice_id: str, params: Json) -> Json:
        allowed(params, {"auto_advance", "expand"})
        invoice = self._invoice(account, invoice_id)
        if invoice["status"] != "draft":
            raise StripeError(400, "This invoice is already finalized, you can't re-finalize a non-draft invoice.")
        now = int(self.clock())
        sequence = sum(1 for obj in account.objects.values() if obj["object"] == "invoice" and obj["number"]) + 1
        invoice["number"] = f"{account.id[-6:].upper()}-{sequence:04d}"
        invoice["status"] = "open" if invoice["amount_due"] > 0 else "paid"
        invoice["status_transitions"]["finalized_at"] = invoice["effective_at"] = now
        if invoice["status"] == "paid":
            invoice["status_transitions"]["paid_at"] = now
        if invoice["collection_method"] == "send_invoice":
            invoice["due_date"] = invoice["_due_date"] or now + invoice["_days_until_due"] * 86400
        invoice["hosted_invoice_url"] = f"{self.url}/i/{account.id}/{invoice['id']}"
        invoice["invoice_pdf"] = f"{self.url}/i/{account.id}/{invoice['id']}/pdf"
        return public(invoice)

    def _void(self, invoice: Json) -> Json:
        if invoice["status"] not in {"open", "uncollectible"}:
            raise StripeError(400, f"You can only void an open or uncollectible invoice; this one is "
                              f"{invoice['status']}.", code="invoice_not_open")
        invoice["status"] = "void"
        invoice["status_transitions"]["voided_at"] = int(self.clock())
        return invoice

    def _invoice_void(self, account: Account, invoice_id: str, params: Json) -> Json:
        allowed(params, {"expand"})
        return public(self._void(self._invoice(account, invoice_id)))

    def _credit_note_create(self, account: Account, params: Json) -> Json:
        allowed(params, {"invoice", "lines", "memo", "metadata", "reason", "out_of_band_amount", "credit_amount",
                          "amount", "email_type", "expand", "effective_at"})
        if not params.get("invoice"):
            raise StripeError(400, "Missing required param: invoice.", code="parameter_missing", param="invoice")
        invoice = self._invoice(account, params["invoice"])
        if invoice["status"] not in {"open", "paid"}:
            raise StripeError(400, "You can only create credit notes for open or paid invoices.",
                              code="invoice_not_open", param="invoice")
        lines = []
        for index, line in enumerate(params.get("lines") or []):
            allowed(line, {"type", "amount", "description", "quantity", "unit_amount", "invoice_line_item",
                            "metadata"}, prefix=f"lines[{index}]")
            if line.get("type") != "custom_line_item":
                raise StripeError(400, "lines[][type] must be custom_line_item here.", code="parameter_invalid_string",
                                  param=f"lines[{index}][type]")
            amount = as_int(line.get("unit_amount", "0"), f"lines[{index}][unit_amount]") * int(line.get("quantity", 1))
            lines.append({"id": self._new_id("cnli"), "object": "credit_note_line_item", "amount": amount,
                          "description": line.get("description"), "quantity": int(line.get("quantity", 1)),
                          "type": "custom_line_item", "livemode": False})
        total = sum(line["amount"] for line in lines)
        if total <= 0:
            raise StripeError(400, "The credit note must have a positive amount.", code="parameter_invalid_integer",
                              param="lines")
        credited = sum(obj["total"] for obj in account.objects.values()
                       if obj["object"] == "credit_note" and obj["invoice"] == invoice["id"])
        if credited + total > invoice["total"]:
            raise StripeError(400, "The sum of credit notes can't exceed the invoice total.", param="lines")
        out_of_band = as_int(params.get("out_of_band_amount", "0"), "out_of_band_amount")
        as_int(params.get("credit_amount", "0"), "credit_amount")  # checked; not a field of the credit note
        if invoice["status"] == "open":
            invoice["amount_remaining"] = max(invoice["amount_remaining"] - total, 0)
            invoice["amount_due"] = max(invoice["amount_due"] - total, 0)
            if invoice["amount_remaining"] == 0:
                invoice["status"] = "paid"
                invoice["status_transitions"]["paid_at"] = int(self.clock())
        note: Json = {
            "id": self._new_id("cn"), "object": "credit_note", "amount": total, "currency": invoice["currency"],
            "created": int(self.clock()), "customer": invoice["customer"], "invoice": invoice["id"],
            "lines": {"object": "list", "data": lines, "has_more": False, "total_count": len(lines),
                      "url": "/v1/credit_notes/lines"},
            "memo": params.get("memo"), "metadata": metadata_merge({}, params.get("metadata", {})),
            "number": f"{invoice['number']}-CN-{credited and 2 or 1:02d}", "out_of_band_amount": out_of_band or None,
            "reason": params.get("reason"), "status": "issued", "subtotal": total,
            "total": total, "type": "pre_payment" if invoice["amount_paid"] == 0 else "post_payment",
            "livemode": False,
        }
        account.objects[note["id"]] = note
        return note

    def _tax_calculation(self, account: Account, params: Json) -> Json:
        allowed(params, {"currency", "line_items", "customer_details", "customer", "expand", "tax_date"})
        details = params.get("customer_details") or {}
        allowed(details, {"address", "address_source", "tax_ids", "taxability_override", "ip_address"},
                prefix="customer_details")
        for index, item in enumerate(params.get("line_items") or []):
            allowed(item, {"amount", "reference", "tax_behavior", "tax_code", "quantity", "product", "metadata"},
                    prefix=f"line_items[{index}]")
        country = ((details.get("address") or {}).get("country") or "").upper()
        if not country:
            raise StripeError(400, "The customer's location isn't recognized.", code="customer_tax_location_invalid",
                              param="customer_details[address]")
        exempt = details.get("taxability_override") in {"customer_exempt", "reverse_charge"}
        rate = Decimal(0) if exempt else self.TAX_RATES.get(country, Decimal(0))
        items = []
        for index, item in enumerate(params.get("line_items") or []):
            amount = as_int(item.get("amount", "0"), f"line_items[{index}][amount]")
            tax = int((Decimal(amount) * rate / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
            items.append({"id": self._new_id("tax_li"), "object": "tax.calculation_line_item", "amount": amount,
                          "amount_tax": tax, "reference": item.get("reference"), "tax_behavior": "exclusive",
                          "quantity": int(item.get("quantity", 1)), "tax_code": "txcd_10000000", "livemode": False})
        tax_total = sum(item["amount_tax"] for item in items)
        taxable = sum(item["amount"] for item in items)
        reason = "reverse_charge" if details.get("taxability_override") == "reverse_charge" else "standard_rated"
        calculation: Json = {
            "id": self._new_id("taxcalc"), "object": "tax.calculation", "amount_total": taxable + tax_total,
            "currency": params.get("currency", "usd").lower(), "customer": None,
            "customer_details": {"address": details.get("address"), "address_source": "billing", "tax_ids": [],
                                 "taxability_override": details.get("taxability_override", "none")},
            "expires_at": int(self.clock()) + 90 * 86400, "livemode": False,
            "tax_amount_exclusive": tax_total, "tax_amount_inclusive": 0,
            "tax_breakdown": [{"amount": tax_total, "inclusive": False, "taxable_amount": taxable,
                               "taxability_reason": reason,
                               "tax_rate_details": {"country": country, "percentage_decimal": str(rate),
                                                    "tax_type": "vat" if country != "US" else "sales_tax"}}],
            "tax_date": int(self.clock()),
        }
        if "line_items" in (params.get("expand") or []):  # not included unless expanded, as in Stripe
            calculation["line_items"] = {"object": "list", "data": items, "has_more": False,
                                         "url": f"/v1/tax/calculations/{calculation['id']}/line_items"}
        return calculation

    def _search(self, account: Account, kind: str, url: str, params: Json) -> Json:
        allowed(params, {"query", "limit", "page", "expand"})
        query = params.get("query")
        if not query:
            raise StripeError(400, "Missing required param: query.", code="parameter_missing", param="query")
        terms = [(match["key"], match["field"], match["value"]) for match in _SEARCH_TERM.finditer(query)]
        if not terms:
            raise StripeError(400, f"Invalid query: {query}", code="parameter_invalid_string", param="query")
        found = [public(obj) for obj in account.objects.values() if obj["object"] == kind and all(
            (obj.get("metadata", {}).get(key) == value) if key else (str(obj.get(name)) == value)
            for key, name, value in terms)]
        limit = int(params.get("limit", 10))
        return {"object": "search_result", "data": found[:limit], "has_more": len(found) > limit,
                "next_page": None, "url": url}
