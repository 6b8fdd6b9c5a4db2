"""A customer's account: its price book versions (and the one in force, with its outcome prices),
its prepaid wallet, its spend-cap alerts."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import Prefetch, Q, Sum

from accounts.models import Customer
from billing.models import CreditGrant, CreditLedgerEntry, Notification, PriceBook, PriceBookEntry, PriceBookMeter
from billing.pricing import OutcomePrice

if TYPE_CHECKING:  # a type for annotations only: outcome types come from outcomes.selectors
    from outcomes.models import OutcomeType

# Spend-cap alerts are few (three per period at most); a year of them fits on a page.
NOTIFICATION_LIMIT = 36


@dataclass(frozen=True)
class GrantBalance:
    grant: CreditGrant
    balance: Decimal


def wallet_balances(*, customer_id: int, currency: str, at: datetime, lock: bool = False) -> list[GrantBalance]:
    """Usable grants at `at` in drawdown order: priority, then soonest expiry, then oldest.
    `lock` holds the grants' rows, for a drawdown about to be written."""
    grants = CreditGrant.objects.filter(customer_id=customer_id, currency=currency, granted_at__lte=at).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=at)
    )
    if lock:
        grants = grants.select_for_update()
    grants = grants.order_by("priority", "expires_at", "granted_at", "pk")
    sums = dict(
        CreditLedgerEntry.objects.filter(grant__in=[g.pk for g in grants]).values("grant")
        .annotate(total=Sum("amount")).values_list("grant", "total")
    )
    return [GrantBalance(g, sums.get(g.pk, Decimal(0))) for g in grants if sums.get(g.pk, Decimal(0)) > 0]


def price_book_version_list(*, customer: Customer) -> list[PriceBook]:
    """Every version of the customer's price book, newest first, with entries and meter prices.
    A customer has a handful of versions: the page picks the one in force from this one read."""
    return list(
        PriceBook.objects.filter(customer=customer, organization_id=customer.organization_id)
        .prefetch_related(
            Prefetch(
                "entries",
                queryset=PriceBookEntry.objects.select_related("outcome_type").order_by("outcome_type__name", "pk"),
            ),
            Prefetch(
                "meter_prices",
                queryset=PriceBookMeter.objects.select_related("meter").order_by("meter__code", "pk"),
            ),
        )
        .order_by("-effective_from")
    )


def notification_list(*, customer: Customer) -> list[Notification]:
    """The customer's latest spend-cap alerts, newest first."""
    return list(
        Notification.objects.filter(customer=customer, organization_id=customer.organization_id).order_by(
            "-created_at", "-pk"
        )[:NOTIFICATION_LIMIT]
    )


def price_book_in_force(*, customer_id: int, period_start: date) -> PriceBook | None:
    return (
        PriceBook.objects.filter(customer_id=customer_id, effective_from__lte=period_start)
        .prefetch_related("entries", "meter_prices")
        .order_by("-effective_from")
        .first()
    )


def outcome_entry_in_force(*, customer_id: int, period_start: date, outcome_type_id: int
                           ) -> tuple[PriceBook | None, PriceBookEntry | None]:
    """The book in force and its entry for one outcome type (None: the type's default price): two small
    reads, for a price asked often (the value app's task budget)."""
    book = (PriceBook.objects.filter(customer_id=customer_id, effective_from__lte=period_start)
            .order_by("-effective_from").first())
    if book is None:
        return None, None
    return book, PriceBookEntry.objects.filter(price_book=book, outcome_type_id=outcome_type_id).first()


def outcome_prices(*, book: PriceBook | None, types: dict[int, "OutcomeType"]) -> dict[int, OutcomePrice]:
    """The price of every outcome type under a book; types without an entry use their default price."""
    prices = {type_id: OutcomePrice(unit_price=t.price) for type_id, t in types.items()}
    if book is not None:
        prices.update({entry.outcome_type_id: OutcomePrice.from_entry(entry) for entry in book.entries.all()})
    return prices
