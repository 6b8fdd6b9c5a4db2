from django.urls import path

from metering.api import views

urlpatterns = [
    path("meters", views.MeterListApi.as_view(), name="meter-list"),
    path("rates", views.RateListApi.as_view(), name="rate-list"),
    path("usage-events", views.UsageEventListApi.as_view(), name="usage-event-list"),
    path("customers/<path:external_id>/usage-summary", views.CustomerUsageSummaryApi.as_view(),
         name="customer-usage-summary"),
]
