import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from accounts.models import Organization
from core.errors import Conflict, DomainError
from metering.models import UNIQUE_PROPERTY_PATTERN, Meter, Rate

# A meter's code as events name it: the API's CodeField rule, held here for every caller.
_CODE = re.compile(r"[A-Za-z0-9_.:-]{1,100}")


def meter_create(
    *, organization: Organization, code: str, name: str, unit: str, aggregation: str,
    unique_property: str = "",
) -> Meter:
    if not _CODE.fullmatch(code):
        raise DomainError("A meter code is 1 to 100 letters, digits and _ . : - only.", field="code")
    if aggregation not in Meter.Aggregation.values:
        raise DomainError(f"Unknown aggregation {aggregation!r}.", field="aggregation")
    # Queries read the property by this name: the model's pattern, checked before the database's CHECK.
    if len(unique_property) > 100 or not re.fullmatch(UNIQUE_PROPERTY_PATTERN, unique_property):
        raise DomainError("A unique property is at most 100 letters, digits and _ . - only.",
                          field="unique_property")
    try:
        with transaction.atomic():
            return Meter.objects.create(
                organization=organization, code=code, name=name, unit=unit, aggregation=aggregation,
                unique_property=unique_property,
            )
    except IntegrityError as exc:
        raise Conflict(f"A meter with code {code!r} already exists.", field="code") from exc


def rate_create(
    *,
    organization: Organization,
    meter_code: str,
    dimensions: dict[str, Any],
    unit_cost: Decimal,
    per: Decimal,
    currency: str,
    effective_from: datetime,
) -> Rate:
    meter = Meter.objects.filter(organization=organization, code=meter_code).first()
    if meter is None:
        raise DomainError(f"No meter with code {meter_code!r}.", field="meter")
    return Rate.objects.create(
        organization=organization, meter=meter, dimensions=dimensions, dimension_count=len(dimensions),
        unit_cost=unit_cost, per=per, currency=currency, effective_from=effective_from,
    )


