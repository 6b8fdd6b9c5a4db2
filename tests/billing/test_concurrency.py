"""Runs at once, finalizations at once, and a run that dies mid-way: real threads, real PostgreSQL."""

import functools
import threading
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, connections

from billing.models import BillingRun, Invoice, InvoiceLine
from billing.services import reconcile as reconcile_module
from billing.services.finalize import invoice_finalize
from billing.services.runs import billing_run_execute
from tests.billing.scenario import OCTOBER, line_tuples, outcomes, post_outcomes, reconcile
from tests.factories import CustomerFactory, OutcomeTypeFactory

pytestmark = pytest.mark.django_db(transaction=True)


def run_at_once(functions: Sequence[Callable[[], Any]]) -> list[Any]:
    barrier = threading.Barrier(len(functions))
    results: list[Any] = [None] * len(functions)

    def call(index: int) -> None:
        try:
            barrier.wait()
            results[index] = functions[index]()
        except Exception as exc:  # surfaced to the test below
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(functions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_two_runs_at_once_produce_one_invoice(vendor) -> None:
    OutcomeTypeFactory.create(organization=vendor.organization, price=Decimal("1.10"))
    post_outcomes(vendor.organization, outcomes(vendor.customer, 40))
    runs = [BillingRun.objects.create(organization=vendor.organization, period_start=OCTOBER.start) for _ in range(4)]

    results = run_at_once([functools.partial(billing_run_execute, run_id=run.pk) for run in runs])

    assert all(isinstance(r, BillingRun) and r.status == "done" for r in results), results
    invoice = Invoice.objects.get(customer=vendor.customer)
    assert invoice.lines.count() == 40
    assert invoice.total == Decimal("44.00")
    assert InvoiceLine.objects.count() == 40


def test_gapless_numbers_under_concurrent_finalization(vendor) -> None:
    OutcomeTypeFactory.create(organization=vendor.organization, price=Decimal("1.00"))
    customers = [CustomerFactory.create(organization=vendor.organization) for _ in range(8)]
    for customer in customers:
        post_outcomes(vendor.organization, outcomes(customer, 2, prefix=f"{customer.external_id}-"))
    drafts = [reconcile(customer) for customer in customers]

    results = run_at_once([functools.partial(invoice_finalize, invoice=draft) for draft in [*drafts, drafts[0]]])

    assert not [r for r in results if isinstance(r, Exception)], results
    numbers = sorted(number or "" for number in Invoice.objects.values_list("number", flat=True))
    assert numbers == [f"INV-{n:06d}" for n in range(1, 9)]


def test_run_that_dies_mid_way_then_reruns_gives_identical_lines(vendor, monkeypatch) -> None:
    OutcomeTypeFactory.create(organization=vendor.organization, price=Decimal("2.50"))
    customers = [vendor.customer] + [CustomerFactory.create(organization=vendor.organization) for _ in range(3)]
    for customer in customers:
        post_outcomes(vendor.organization, outcomes(customer, 5, prefix=f"{customer.external_id}-"))
    reference = {c.pk: line_tuples(reconcile(c)) for c in customers}
    Invoice.objects.all().delete()

    real = reconcile_module.outcome_lines
    calls = {"n": 0}

    def dies_on_the_third_customer(**kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise SystemExit("worker killed")  # not an Exception: nothing catches it, like a kill
        return real(**kwargs)

    monkeypatch.setattr(reconcile_module, "outcome_lines", dies_on_the_third_customer)
    run = BillingRun.objects.create(organization=vendor.organization, period_start=OCTOBER.start)
    with pytest.raises(SystemExit):
        billing_run_execute(run_id=run.pk)
    assert Invoice.objects.count() == 2, "the two customers done are kept; the third left nothing half-written"
    assert connection.in_atomic_block is False

    monkeypatch.setattr(reconcile_module, "outcome_lines", real)
    rerun = BillingRun.objects.create(organization=vendor.organization, period_start=OCTOBER.start)
    assert billing_run_execute(run_id=rerun.pk).status == "done"
    assert {c.pk: line_tuples(Invoice.objects.get(customer=c)) for c in customers} == reference
