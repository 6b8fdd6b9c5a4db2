from django.db.models import F, QuerySet

from accounts.models import ApiKey, Customer, Organization
from accounts.services import hash_api_key
from core.cache import HitCache
from core.errors import NotFound


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    return (
        ApiKey.objects.select_related("organization", "customer")
        .filter(key_hash=hash_api_key(raw_key), revoked_at__isnull=True)
        .first()
    )


def customer_list(*, organization: Organization) -> QuerySet[Customer]:
    return Customer.objects.filter(organization=organization).order_by("external_id")


def customer_get(*, organization: Organization, external_id: str) -> Customer:
    customer = Customer.objects.filter(organization=organization, external_id=external_id).first()
    if customer is None:
        raise NotFound(f"No customer with external_id {external_id!r}.", field="customer")
    return customer


# Ingestion resolves customer names on every batch: ids found in the last minute are remembered per
# process (hits only, so a customer created a moment ago is found at once).
customer_id_cache = HitCache(seconds=60)


def customer_ids_cached(*, organization_id: int, external_ids: set[str]) -> dict[str, int]:
    return customer_id_cache.get_many(
        organization_id, external_ids,
        lambda names: customer_ids_by_external_id(organization_id=organization_id, external_ids=names),
    )


def customer_ids_by_external_id(*, organization_id: int, external_ids: set[str]) -> dict[str, int]:
    rows = Customer.objects.filter(organization_id=organization_id, external_id__in=external_ids)
    return dict(rows.values_list("external_id", "id"))



def api_key_list(*, organization: Organization) -> QuerySet[ApiKey]:
    """The organization's keys, active first, newest first (revoked ones stay listed)."""
    return (
        ApiKey.objects.filter(organization=organization)
        .select_related("customer")
        .order_by(F("revoked_at").desc(nulls_first=True), "-created_at", "-pk")
    )
