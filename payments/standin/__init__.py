"""A stand-in for Stripe's API, for the tests and the demo: the machines this is built on cannot reach
Stripe, and no official mock installs here.

It speaks Stripe's wire format for exactly the calls Tally makes (checked against stripe/openapi's
fixtures and the stripe SDK's generated parameter types): form-encoded bracketed parameters in
(`metadata[tally_invoice_id]=7`, `lines[0][amount]=990`), JSON objects with `id` and `object` out,
Stripe's error envelope `{"error": {"type", "code", "message", "param"}}` with its status codes (401 for
a bad key, 404 `resource_missing`, 400 `parameter_unknown` / `parameter_missing`, 400
`idempotency_error` for a key reused with other parameters), and Idempotency-Key replay: a key seen
before answers the first answer again, byte for byte, with `Idempotent-Replayed: true`.

It also plays Stripe's side of collection: `invoice_pay`, `invoice_payment_fail`, `invoice_void_remote`
and `invoice_mark_uncollectible_remote` move an invoice and send the event, signed like Stripe
(`Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.payload">`), to the account's webhook URL.

Each API key is its own Stripe account (`account_add`), so two organizations never share objects.
Start it with `StripeStandIn().start()` (a free port; `.url` is the base address for
`stripe.StripeClient(key, base_addresses={"api": url})`), or run `python -m payments.standin --port N`.
"""


from __future__ import annotations

import argparse
import hashlib
import json
import re
import secrets
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from payments.standin.hosted import hosted_page
from payments.standin.resources import Account, Resources
from payments.standin.wire import Json, StripeError, form_decode, public, signature_header

__all__ = ["StripeStandIn", "StripeError", "form_decode", "signature_header"]

API_VERSION = "2026-10-28.endive"


@dataclass
class Hold:
    """Holds the answer to a matching request (after the work is done) until released: a client that dies
    meanwhile has had its effect on Stripe without hearing of it."""

    method: str
    pattern: re.Pattern[str]
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


@dataclass
class Logged:
    method: str
    path: str
    idempotency_key: str | None
    status: int
    replayed: bool
    params: Json


class StripeStandIn(Resources):

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.accounts: dict[str, Account] = {}
        self.log: list[Logged] = []
        self.holds: list[Hold] = []
        self.failures: list[tuple[str, re.Pattern[str], StripeError]] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer((host, port), _handler_for(self))
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> StripeStandIn:
        self._thread = threading.Thread(target=self.server.serve_forever, name="stripe-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        for hold in self.holds:
            hold.release.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> StripeStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test controls -----------------------------------------------------------------------------------

    def account_add(self, api_key: str, *, name: str = "Stand-in account", country: str = "US",
                    webhook_url: str | None = None, webhook_secret: str | None = None) -> Account:
        """A Stripe account answering to `api_key`; adding a key again changes its name and webhook, keeps its
        objects. The account id follows from the key: a restarted stand-in is the same account."""
        account = self.accounts.get(api_key)
        if account is None:
            account_id = f"acct_{hashlib.sha256(api_key.encode()).hexdigest()[:16]}"
            account = self.accounts[api_key] = Account(api_key=api_key, id=account_id, name=name, country=country)
        account.name = name
        account.webhook_url = webhook_url or account.webhook_url
        account.webhook_secret = webhook_secret or account.webhook_secret
        return account

    def hold(self, method: str, path_regex: str) -> Hold:
        hold = Hold(method.upper(), re.compile(path_regex))
        self.holds.append(hold)
        return hold

    def fail_next(self, method: str, path_regex: str, status: int, message: str, *, type: str = "api_error",
                  code: str | None = None, times: int = 1) -> None:
        """The next `times` matching requests fail with this error before doing anything (nothing is stored
        for their idempotency key, as Stripe stores nothing for a request that did not run). The SDK
        retries a 5xx once by itself (same key): fail it twice to reach the caller."""
        error = StripeError(status, message, type=type, code=code)
        self.failures += [(method.upper(), re.compile(path_regex), error)] * times

    def requests(self, method: str, path_regex: str) -> list[Logged]:
        pattern = re.compile(path_regex)
        return [entry for entry in self.log if entry.method == method.upper() and pattern.fullmatch(entry.path)]

    def objects(self, api_key: str, kind: str) -> list[Json]:
        return [obj for obj in self.accounts[api_key].objects.values() if obj["object"] == kind]

    # -- Stripe's side of collection ---------------------------------------------------------------------

    def invoice_pay(self, api_key: str, invoice_id: str, *, amount: int | None = None,
                    at: int | None = None) -> tuple[int, bytes]:
        """The customer pays (all that remains, or `amount`): invoice.paid, or invoice.payment_succeeded
        alone for a part payment. Returns our endpoint's answer."""
        kind, snapshot = self.invoice_settle(api_key, invoice_id, amount=amount, at=at)
        return self.event_send(api_key, kind, snapshot)

    def invoice_settle(self, api_key: str, invoice_id: str, *, amount: int | None = None,
                       at: int | None = None) -> tuple[str, Json]:
        """The payment on Stripe's side alone: the event type it would send and the invoice as it stands."""
        account = self.accounts[api_key]
        with account.lock:
            invoice = self._invoice(account, invoice_id)
            if invoice["status"] != "open":
                raise StripeError(400, f"Invoice is {invoice['status']}; only an open invoice can be paid.",
                                  code="invoice_not_open")
            paid = invoice["amount_remaining"] if amount is None else min(amount, invoice["amount_remaining"])
            invoice["amount_paid"] += paid
            invoice["amount_remaining"] -= paid
            invoice["attempted"], invoice["attempt_count"] = True, invoice["attempt_count"] + 1
            if invoice["amount_remaining"] == 0:
                invoice["status"] = "paid"
                invoice["status_transitions"]["paid_at"] = at or int(self.clock())
            kind = "invoice.paid" if invoice["status"] == "paid" else "invoice.payment_succeeded"
            return kind, public(invoice)

    def state_dump(self) -> Json:
        """Every account's objects, for a stand-in started later (`--state`) to serve the same invoices."""
        return {key: {"name": account.name, "objects": account.objects} for key, account in self.accounts.items()}

    def state_load(self, state: Json) -> None:
        for key, saved in state.items():
            self.account_add(key, name=saved.get("name", "Stand-in account")).objects.update(saved["objects"])

    def invoice_payment_fail(self, api_key: str, invoice_id: str, *, message: str = "Your card was declined.") \
            -> tuple[int, bytes]:
        account = self.accounts[api_key]
        with account.lock:
            invoice = self._invoice(account, invoice_id)
            invoice["attempted"], invoice["attempt_count"] = True, invoice["attempt_count"] + 1
            invoice["last_finalization_error"] = None
            invoice["next_payment_attempt"] = int(self.clock()) + 3 * 86400
            invoice["last_payment_error"] = {"type": "card_error", "code": "card_declined", "message": message}
            snapshot = public(invoice)
        return self.event_send(api_key, "invoice.payment_failed", snapshot)

    def invoice_void_remote(self, api_key: str, invoice_id: str) -> tuple[int, bytes]:
        """Someone voids the invoice in Stripe's dashboard."""
        account = self.accounts[api_key]
        with account.lock:
            snapshot = public(self._void(self._invoice(account, invoice_id)))
        return self.event_send(api_key, "invoice.voided", snapshot)

    def invoice_mark_uncollectible_remote(self, api_key: str, invoice_id: str) -> tuple[int, bytes]:
        account = self.accounts[api_key]
        with account.lock:
            invoice = self._invoice(account, invoice_id)
            invoice["status"] = "uncollectible"
            invoice["status_transitions"]["marked_uncollectible_at"] = int(self.clock())
            snapshot = public(invoice)
        return self.event_send(api_key, "invoice.marked_uncollectible", snapshot)

    def event_build(self, api_key: str, kind: str, obj: Json, *, timestamp: int | None = None,
                    secret: str | None = None) -> tuple[bytes, str, Json]:
        """A Stripe event for `obj`, its JSON body and the `Stripe-Signature` header for it."""
        account = self.accounts[api_key]
        now = int(self.clock()) if timestamp is None else timestamp
        snapshot = {key: value for key, value in json.loads(json.dumps(obj)).items() if not key.startswith("_")}
        event: Json = {
            "id": f"evt_{secrets.token_hex(12)}", "object": "event", "api_version": API_VERSION, "created": now,
            "data": {"object": snapshot}, "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None}, "type": kind,
        }
        account.objects[event["id"]] = event
        body = json.dumps(event, indent=2)
        header = signature_header(body, secret or account.webhook_secret or "", now)
        return body.encode(), header, event

    def event_send(self, api_key: str, kind: str, obj: Json) -> tuple[int, bytes]:
        account = self.accounts[api_key]
        if not account.webhook_url or not account.webhook_secret:
            return 0, b"no webhook endpoint"
        body, header, _ = self.event_build(api_key, kind, obj)
        return self.deliver(account.webhook_url, body, header)

    @staticmethod
    def deliver(url: str, body: bytes, header: str) -> tuple[int, bytes]:
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8", "Stripe-Signature": header,
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - a URL the test gave
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    # -- the API -----------------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: str, body: bytes, headers: dict[str, str]) \
            -> tuple[int, bytes, dict[str, str]]:
        """One API call: (status, JSON body, extra headers)."""
        key = headers.get("idempotency-key")
        try:
            params = form_decode(parse_qsl(query if method == "GET" else body.decode(), keep_blank_values=True))
        except StripeError as exc:
            return exc.status, json.dumps(exc.body).encode(), {}
        try:
            account = self._authenticate(headers.get("authorization", ""))
        except StripeError as exc:
            self._record(method, path, key, exc.status, False, params)
            return exc.status, json.dumps(exc.body).encode(), {}
        for index, (fail_method, pattern, error) in enumerate(self.failures):
            if fail_method == method and pattern.fullmatch(path):
                del self.failures[index]
                self._record(method, path, key, error.status, False, params)
                return error.status, json.dumps(error.body).encode(), {}
        fingerprint = hashlib.sha256(f"{method} {path} {json.dumps(params, sort_keys=True)}".encode()).hexdigest()
        with account.lock:
            if method == "POST" and key and key in account.idempotency:
                first_fingerprint, status, answer = account.idempotency[key]
                if first_fingerprint != fingerprint:
                    error = StripeError(400, "Keys for idempotent requests can only be used with the same "
                                        "parameters they were first used with. Try using a key other than "
                                        f"'{key}' if you meant to execute a different request.",
                                        type="idempotency_error")
                    self._record(method, path, key, 400, False, params)
                    return 400, json.dumps(error.body).encode(), {}
                self._record(method, path, key, status, True, params)
                return status, answer, {"Idempotent-Replayed": "true", "Idempotency-Key": key}
            try:
                status, answer = 200, json.dumps(self._route(account, method, path, params), indent=2).encode()
            except StripeError as exc:
                status, answer = exc.status, json.dumps(exc.body).encode()
            # Stripe saves the answer of a request that ran, errors included, but not of one refused before
            # it ran (validation, authentication): a corrected retry may reuse the key.
            if method == "POST" and key and (status < 400 or status == 402):
                account.idempotency[key] = (fingerprint, status, answer)
            self._record(method, path, key, status, False, params)
        for hold in self.holds:
            if hold.method == method and hold.pattern.fullmatch(path) and not hold.arrived.is_set():
                hold.arrived.set()
                hold.release.wait(timeout=60)
        return status, answer, {"Idempotency-Key": key} if key else {}

    def _record(self, method: str, path: str, key: str | None, status: int, replayed: bool, params: Json) -> None:
        with self._lock:
            self.log.append(Logged(method, path, key, status, replayed, params))

    def _authenticate(self, authorization: str) -> Account:
        scheme, _, api_key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not api_key:
            raise StripeError(401, "You did not provide an API key. You need to provide your API key in the "
                              "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').")
        account = self.accounts.get(api_key)
        if account is None:
            raise StripeError(401, f"Invalid API Key provided: {api_key[:8]}{'*' * 12}{api_key[-4:]}",
                              code="api_key_invalid" if api_key.startswith(("sk_", "rk_")) else None)
        return account

    def _route(self, account: Account, method: str, path: str, params: Json) -> Json:
        parts = path.strip("/").split("/")
        if parts[0] != "v1":
            raise StripeError(404, f"Unrecognized request URL ({method}: {path}).")
        route = (method, *("{id}" if index == 2 and part not in {"search"} else part
                           for index, part in enumerate(parts[1:], start=1)))
        object_id = parts[2] if len(parts) > 2 else ""
        handlers: dict[tuple[str, ...], Callable[[], Json]] = {
            ("GET", "account"): lambda: self._account(account, params),
            ("GET", "balance"): lambda: self._balance(params),
            ("POST", "customers"): lambda: self._customer_create(account, params),
            ("GET", "customers", "search"): lambda: self._search(account, "customer", "/v1/customers/search", params),
            ("GET", "customers", "{id}"): lambda: self._get(account, object_id, "customer", params),
            ("POST", "customers", "{id}"): lambda: self._customer_update(account, object_id, params),
            ("POST", "customers", "{id}", "tax_ids"): lambda: self._tax_id_create(account, object_id, params),
            ("GET", "customers", "{id}", "tax_ids"): lambda: self._tax_id_list(account, object_id, params),
            ("POST", "invoices"): lambda: self._invoice_create(account, params),
            ("GET", "invoices", "search"): lambda: self._search(account, "invoice", "/v1/invoices/search", params),
            ("GET", "invoices", "{id}"): lambda: self._get(account, object_id, "invoice", params),
            ("POST", "invoices", "{id}", "add_lines"): lambda: self._invoice_add_lines(account, object_id, params),
            ("GET", "invoices", "{id}", "lines"): lambda: self._invoice_lines(account, object_id, params),
            ("POST", "invoices", "{id}", "finalize"): lambda: self._invoice_finalize(account, object_id, params),
            ("POST", "invoices", "{id}", "void"): lambda: self._invoice_void(account, object_id, params),
            ("POST", "credit_notes"): lambda: self._credit_note_create(account, params),
            ("GET", "credit_notes", "{id}"): lambda: self._get(account, object_id, "credit_note", params),
            ("POST", "tax", "calculations"): lambda: self._tax_calculation(account, params),
        }
        handler = handlers.get((method, *parts[1:])) or handlers.get(route)  # a fixed path first: /v1/tax/...
        if handler is None:
            raise StripeError(404, f"Unrecognized request URL ({method}: {path}). Please see "
                              "https://stripe.com/docs or we can help at https://support.stripe.com/.")
        return handler()


def _handler_for(standin: StripeStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "stripe-standin"

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in two writes: without this, Nagle's algorithm holds the body until the
            # client's delayed ACK (40 ms a call here).
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self, method: str) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {key.lower(): value for key, value in self.headers.items()}
            if split.path.startswith("/i/"):
                status, answer, extra = hosted_page(standin, method, split.path)
            else:
                status, answer, extra = standin.handle(method, split.path, split.query, body, headers)
                extra = {"Content-Type": "application/json", "Request-Id": f"req_{secrets.token_hex(7)}",
                         "Stripe-Version": API_VERSION, **extra}
            self.send_response(status)
            for key, value in extra.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self._serve("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._serve("POST")

        def do_DELETE(self) -> None:  # noqa: N802
            self._serve("DELETE")

    return Handler


def main() -> None:
    """`python -m payments.standin --port 12111 --key sk_test_demo --webhook URL --secret whsec_...`"""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--key", action="append", default=[], help="an API key to accept (repeatable)")
    parser.add_argument("--webhook", help="the webhook URL events are sent to")
    parser.add_argument("--secret", help="the webhook signing secret")
    parser.add_argument("--state", help="a JSON file of objects to serve (the demo seed writes one)")
    options = parser.parse_args()
    standin = StripeStandIn(port=options.port)
    if options.state and Path(options.state).exists():
        standin.state_load(json.loads(Path(options.state).read_text()))
    for key in options.key or ["sk_test_standin"]:
        name = standin.accounts[key].name if key in standin.accounts else "Stand-in account"
        standin.account_add(key, name=name, webhook_url=options.webhook, webhook_secret=options.secret)
    print(f"Stripe stand-in on {standin.url} (keys: {', '.join(standin.accounts)})", flush=True)
    try:
        standin.server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
