from django.contrib import admin

from metering.models import Meter, Rate


@admin.register(Meter)
class MeterAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "unit", "aggregation", "organization"]
    list_filter = ["organization", "aggregation"]


@admin.register(Rate)
class RateAdmin(admin.ModelAdmin):
    list_display = ["meter", "dimensions", "unit_cost", "per", "currency", "effective_from", "organization"]
    list_filter = ["organization", "meter", "currency"]
