from django.urls import path

from billing.api import actions, books, document, views

urlpatterns = [
    path("billing-runs", views.BillingRunListApi.as_view(), name="billing-run-list"),
    path("billing-runs/<int:run_id>", views.BillingRunDetailApi.as_view(), name="billing-run-detail"),
    path("invoices", views.InvoiceListApi.as_view(), name="invoice-list"),
    path("invoices/<int:invoice_id>", views.InvoiceDetailApi.as_view(), name="invoice-detail"),
    path("invoices/<int:invoice_id>/finalize", actions.InvoiceFinalizeApi.as_view(), name="invoice-finalize"),
    path("invoices/<int:invoice_id>/pay", actions.InvoicePayApi.as_view(), name="invoice-pay"),
    path("invoices/<int:invoice_id>/void", actions.InvoiceVoidApi.as_view(), name="invoice-void"),
    path("invoices/<int:invoice_id>/credit-notes", actions.CreditNoteCreateApi.as_view(), name="credit-note-create"),
    path("credit-notes", actions.CreditNoteListApi.as_view(), name="credit-note-list"),
    path("invoices/<int:invoice_id>/pdf", document.InvoicePdfApi.as_view(), name="invoice-pdf"),
    path("invoices/<int:invoice_id>/payments", document.InvoicePaymentApi.as_view(), name="invoice-payment"),
    path("invoices/<int:invoice_id>/payment-link", document.InvoicePaymentLinkApi.as_view(),
         name="invoice-payment-link"),
    path("tax-rates", document.TaxRateListApi.as_view(), name="tax-rate-list"),
    path("tax-rates/<int:tax_rate_id>", document.TaxRateDetailApi.as_view(), name="tax-rate-detail"),
    path("customers/<str:external_id>/tax-rates", document.CustomerTaxRatesApi.as_view(), name="customer-tax-rates"),
    path("customers/<str:external_id>/roi", views.CustomerRoiApi.as_view(), name="customer-roi"),
    path("customers/<str:external_id>/price-books", books.PriceBookListApi.as_view(), name="price-book-list"),
    path("customers/<str:external_id>/credit-grants", books.CreditGrantListApi.as_view(), name="credit-grant-list"),
    path("customers/<str:external_id>/wallet", books.WalletApi.as_view(), name="customer-wallet"),
    path("notifications", books.NotificationListApi.as_view(), name="notification-list"),
]
