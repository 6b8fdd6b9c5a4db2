"""Old usage events leave the database: each organization's events of a month are exported (gzip CSV)
and deleted once its retention has passed and every customer with events that month has a final
(finalized, paid or void) invoice for it; a month's partition is detached and dropped once no
organization's events are left in it. The rollups, the invoices and the key table stay: figures and
deduplication never depended on the raw rows being there.

Retention per organization: metering.partitions.usage_retention_set, else EVENT_RETENTION_MONTHS (13).
"""

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from django.conf import settings

from accounts.models import Organization
from billing.models import Invoice
from core.periods import Period
from metering.partitions import (
    usage_partition_drop_if_empty,
    usage_partition_export,
    usage_partition_months,
    usage_partition_organizations,
    usage_retention_months,
)


@dataclass(frozen=True)
class Archived:
    organization: str
    period: str
    rows: int
    path: Path


def _invoices_final(*, organization_id: int, customer_ids: list[int], period: Period) -> bool:
    final = set(
        Invoice.objects.filter(organization_id=organization_id, period_start=period.start)
        .exclude(status=Invoice.Status.DRAFT).values_list("customer_id", flat=True)
    )
    return set(customer_ids) <= final


def usage_archive(*, today: date, export_dir: Path) -> list[Archived]:
    """Export and remove what is due (see the module's docstring); returns what was archived."""
    default = int(getattr(settings, "EVENT_RETENTION_MONTHS", 13))
    current = Period.of(today)
    archived = []
    for month in usage_partition_months():
        period = Period(month)
        if period.start >= current.start:
            break
        for organization_id, customer_ids in usage_partition_organizations(month=month).items():
            retention = usage_retention_months(organization_id=organization_id, default=default)
            if period.add(retention + 1).start > today:
                continue  # still within its retention (counted from the month after the period)
            if not _invoices_final(organization_id=organization_id, customer_ids=customer_ids, period=period):
                continue  # never before the period's invoices are final
            slug = Organization.objects.get(pk=organization_id).slug
            path = export_dir / slug / f"usage-{period.label}.csv.gz"
            rows = usage_partition_export(month=month, organization_id=organization_id, path=path)
            archived.append(Archived(slug, period.label, rows, path))
        usage_partition_drop_if_empty(month=month)
    return archived
