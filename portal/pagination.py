from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest

# Long enough to scan a month's invoices or a customer list at a glance, short enough to render fast.
PAGE_SIZE = 50


def paginate(request: HttpRequest, items: QuerySet, per_page: int = PAGE_SIZE) -> Page:  # type: ignore[type-arg]
    """The requested page; a page number out of range or not a number gives the nearest real page."""
    return Paginator(items, per_page).get_page(request.GET.get("page"))
