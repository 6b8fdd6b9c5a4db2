"""Prepaid credits: grants, drawdown and expiry, written to an append-only ledger (balances are its
sums, read by `billing.selectors.account.wallet_balances`)."""

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import Customer
from billing.models import CreditGrant, CreditLedgerEntry, Invoice
from billing.pricing import prepaid_drawdown
from billing.selectors.account import wallet_balances
from core.errors import DomainError
from core.money import money_check


def credit_grant_create(
    *, customer: Customer, amount: Decimal, currency: str, expires_at: datetime | None = None,
    priority: int = 100, description: str = "", granted_at: datetime | None = None,
) -> CreditGrant:
    if amount <= 0:
        raise DomainError("A grant must be positive.", field="amount")
    money_check(amount, currency, field="amount")
    granted_at = granted_at or timezone.now()
    if expires_at is not None and expires_at <= granted_at:
        raise DomainError("expires_at must be after the grant.", field="expires_at")
    with transaction.atomic():
        grant = CreditGrant.objects.create(
            organization_id=customer.organization_id, customer=customer, amount=amount, currency=currency,
            expires_at=expires_at, priority=priority, description=description, granted_at=granted_at,
        )
        CreditLedgerEntry.objects.create(
            organization_id=customer.organization_id, grant=grant, kind=CreditLedgerEntry.Kind.GRANT, amount=amount
        )
    return grant


def wallet_draw_down(*, invoice: Invoice, amount: Decimal, at: datetime) -> Decimal:
    """Write the drawdown of a finalizing invoice; returns what the wallet actually paid."""
    balances = wallet_balances(customer_id=invoice.customer_id, currency=invoice.currency, at=at, lock=True)
    taken = prepaid_drawdown(balances=[b.balance for b in balances], total=amount)
    for grant_balance, take in zip(balances, taken, strict=True):
        if take > 0:
            CreditLedgerEntry.objects.create(
                organization_id=invoice.organization_id, grant=grant_balance.grant,
                kind=CreditLedgerEntry.Kind.DRAWDOWN, amount=-take, invoice=invoice,
            )
    return sum(taken, Decimal(0))


def credits_expire(*, now: datetime | None = None) -> int:
    """Zero the balance of every grant past its expiry (one expiry entry per grant; safe to rerun)."""
    now = now or timezone.now()
    expired = 0
    for grant in CreditGrant.objects.filter(expires_at__lte=now).exclude(entries__kind=CreditLedgerEntry.Kind.EXPIRY):
        with transaction.atomic():
            locked = CreditGrant.objects.select_for_update().get(pk=grant.pk)
            if locked.entries.filter(kind=CreditLedgerEntry.Kind.EXPIRY).exists():
                continue
            balance = locked.entries.aggregate(total=Sum("amount"))["total"] or Decimal(0)
            CreditLedgerEntry.objects.create(
                organization_id=locked.organization_id, grant=locked, kind=CreditLedgerEntry.Kind.EXPIRY,
                amount=-balance,
            )
            expired += 1
    return expired
