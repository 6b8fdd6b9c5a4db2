from django.urls import path

from billing.api import views

urlpatterns = [
    path("billing-runs", views.BillingRunListApi.as_view(), name="billing-run-list"),
    path("billing-runs/<int:run_id>", views.BillingRunDetailApi.as_view(), name="billing-run-detail"),
    path("invoices", views.InvoiceListApi.as_view(), name="invoice-list"),
    path("invoices/<int:invoice_id>", views.InvoiceDetailApi.as_view(), name="invoice-detail"),
    path("customers/<str:external_id>/roi", views.CustomerRoiApi.as_view(), name="customer-roi"),
]
