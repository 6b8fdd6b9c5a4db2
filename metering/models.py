from django.core.validators import RegexValidator
from django.db import models

from accounts.models import Customer, Organization

# Property names a unique_count meter may count by; held by the service, the model and a CHECK
# constraint, so the name is safe wherever a query reads it.
UNIQUE_PROPERTY_PATTERN = r"^[A-Za-z0-9_.-]*$"


class Meter(models.Model):
    """What a usage event measures, its unit, and how its quantities aggregate."""

    class Aggregation(models.TextChoices):
        SUM = "sum"
        COUNT = "count"
        MAX = "max"
        UNIQUE_COUNT = "unique_count"
        LATEST = "latest"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="meters")
    code = models.SlugField(max_length=100)
    name = models.CharField(max_length=200)
    unit = models.CharField(max_length=50)
    aggregation = models.CharField(max_length=16, choices=Aggregation.choices, default=Aggregation.SUM)
    unique_property = models.CharField(
        max_length=100, blank=True, validators=[RegexValidator(UNIQUE_PROPERTY_PATTERN)],
        help_text="For unique_count: the property whose distinct values count (empty: distinct task ids).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "code"], name="meter_code_unique"),
            models.CheckConstraint(condition=models.Q(unique_property__regex=UNIQUE_PROPERTY_PATTERN),
                                   name="meter_unique_property_safe"),
        ]

    def __str__(self) -> str:
        return self.code


class Rate(models.Model):
    """What `per` units of a meter cost the vendor, for events whose properties contain `dimensions`.

    Time-versioned: the rate in force for an event is the one with the latest effective_from at or
    before the event's time; among those, the one naming the most dimensions wins.
    """

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="rates")
    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, related_name="rates")
    dimensions = models.JSONField(default=dict, blank=True)
    dimension_count = models.PositiveSmallIntegerField(default=0, editable=False)
    unit_cost = models.DecimalField(max_digits=30, decimal_places=12)
    per = models.DecimalField(max_digits=30, decimal_places=6, default=1)
    currency = models.CharField(max_length=3)
    effective_from = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["meter", "effective_from"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(per__gt=0), name="rate_per_positive"),
            models.CheckConstraint(condition=models.Q(unit_cost__gte=0), name="rate_cost_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.meter.code} {self.dimensions} {self.unit_cost} {self.currency}/{self.per}"


class UsageEvent(models.Model):
    """One measurement. Stored in a table partitioned by month of `timestamp` (see migration 0002).

    The model is unmanaged: the table, its partitions and the idempotency-key table are plain SQL.
    """

    id = models.BigIntegerField(primary_key=True)
    organization = models.ForeignKey(Organization, on_delete=models.DO_NOTHING, db_constraint=False)
    customer = models.ForeignKey(Customer, on_delete=models.DO_NOTHING, db_constraint=False)
    meter = models.ForeignKey(Meter, on_delete=models.DO_NOTHING, db_constraint=False)
    task_id = models.CharField(max_length=200, null=True)  # noqa: DJ001 - usage outside any task
    quantity = models.DecimalField(max_digits=38, decimal_places=12)
    timestamp = models.DateTimeField()
    properties = models.JSONField(default=dict)
    idempotency_key = models.CharField(max_length=200)
    received_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "metering_usageevent"

    def __str__(self) -> str:
        return self.idempotency_key
