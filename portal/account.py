"""A customer's account as both sides see it: the price book in force, the prepaid wallet, and the
spend-cap alerts. The vendor reads it on the customer page, the customer on its ROI page."""

from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from accounts.models import Customer
from billing.models import Notification, PriceBook
from billing.selectors.account import GrantBalance, notification_list, price_book_version_list, wallet_balances


@dataclass(frozen=True)
class Account:
    book: PriceBook | None
    versions: list[PriceBook]
    wallet_currency: str
    grants: list[GrantBalance]
    notifications: list[Notification]

    @property
    def wallet_balance(self) -> Decimal:
        return sum((grant.balance for grant in self.grants), Decimal(0))

    @property
    def later_versions(self) -> list[PriceBook]:
        """Versions that take effect after the one in force (already agreed, not yet pricing)."""
        if self.book is None:
            return self.versions
        return [book for book in self.versions if book.effective_from > self.book.effective_from]


def customer_account(*, customer: Customer) -> Account:
    now = timezone.now()
    versions = price_book_version_list(customer=customer)
    # The version in force today is the newest one already effective (the engine's rule for a period).
    book = next((version for version in versions if version.effective_from <= now.date()), None)
    currency = book.currency if book else customer.currency
    return Account(
        book=book,
        versions=versions,
        wallet_currency=currency,
        grants=wallet_balances(customer_id=customer.pk, currency=currency, at=now),
        notifications=notification_list(customer=customer),
    )
