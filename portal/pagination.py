from collections.abc import Sequence
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest

# Long enough to scan a month's invoices or a customer list at a glance, short enough to render fast.
PAGE_SIZE = 50


def paginate(
    request: HttpRequest,
    items: QuerySet[Any] | Sequence[Any],  # rows often carry annotations their model's type does not declare
    per_page: int = PAGE_SIZE,
    param: str = "page",
) -> Page[Any]:
    """The requested page; a page number out of range or not a number gives the nearest real page.
    `param` names the query parameter, so two lists on one page turn their pages independently."""
    return Paginator(items, per_page).get_page(request.GET.get(param))
