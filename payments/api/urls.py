from django.urls import path

from payments.api import views

urlpatterns = [
    path("stripe/account", views.StripeAccountApi.as_view(), name="stripe-account"),
    path("stripe/reconciliation", views.StripeReconciliationApi.as_view(), name="stripe-reconciliation"),
    path("invoices/<int:invoice_id>/stripe", views.InvoiceStripeApi.as_view(), name="invoice-stripe"),
    path("invoices/<int:invoice_id>/stripe/push", views.InvoiceStripePushApi.as_view(), name="invoice-stripe-push"),
]
