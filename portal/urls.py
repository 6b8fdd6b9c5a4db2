from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import path
from django.views.generic import RedirectView

from portal.views import (
    aging,
    audit,
    billing_settings,
    confirm,
    customers,
    dashboard,
    disputes,
    events,
    exports,
    invoice_actions,
    invoice_document,
    invoices,
    keys,
    runs,
    tasks,
)
from portal.views import payments as payments_pages
from portal.views import value as value_pages
from portal.views import value_tools as value_tool_pages
from portal.views import verification_sources as verification_source_pages
from portal.views import webhooks as webhook_pages

app_name = "portal"

urlpatterns = [
    path("", invoices.home, name="home"),
    # Pages link the icon themselves; this answers browsers and tools that ask the conventional address.
    path("favicon.ico", RedirectView.as_view(url=static("portal/favicon.svg"), permanent=True), name="favicon"),
    path("login/", auth_views.LoginView.as_view(template_name="portal/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Both sides: each page scopes its rows to the viewer's organization and, for a customer user, customer.
    path("invoices/", invoices.invoice_list_page, name="invoice-list"),
    path("invoices/<int:invoice_id>/", invoice_document.invoice_detail_page, name="invoice-detail"),
    path("invoices/<int:invoice_id>/invoice.csv", invoice_document.invoice_csv, name="invoice-csv"),
    path("invoices/<int:invoice_id>/summary.csv", invoice_document.invoice_summary_csv, name="invoice-summary-csv"),
    path("invoices/<int:invoice_id>/invoice.pdf", invoice_document.invoice_pdf, name="invoice-pdf"),
    path("billing/logo", invoice_document.billing_logo, name="billing-logo"),
    # Billing settings (vendor admins): the billing profile, tax rates, a customer's billing details.
    path("settings/billing/", billing_settings.billing_profile_page, name="billing-settings"),
    path("settings/billing/tax-rates/new/", billing_settings.tax_rate_new, name="tax-rate-new"),
    path("settings/billing/tax-rates/<int:tax_rate_id>/", billing_settings.tax_rate_edit, name="tax-rate-edit"),
    path("settings/billing/customers/<path:external_id>/", billing_settings.customer_billing_page,
         name="customer-billing"),
    # Vendor admin actions: GET asks for confirmation, POST acts through the billing services.
    path(
        "invoices/<int:invoice_id>/finalize/",
        invoice_actions.invoice_action,
        {"action": "finalize"},
        name="invoice-finalize",
    ),
    path(
        "invoices/<int:invoice_id>/mark-paid/",
        invoice_actions.invoice_action,
        {"action": "mark-paid"},
        name="invoice-mark-paid",
    ),
    path(
        "invoices/<int:invoice_id>/void/",
        invoice_actions.invoice_action,
        {"action": "void"},
        name="invoice-void",
    ),
    path(
        "invoices/<int:invoice_id>/credit-note/", invoice_actions.credit_note_new, name="invoice-credit-note"
    ),
    path("invoices/<int:invoice_id>/lines/<int:line_id>/dispute/", tasks.line_dispute, name="line-dispute"),
    # Task ids are the vendor's own strings and may contain slashes: the path converter keeps them whole.
    path("invoices/<int:invoice_id>/tasks/<path:task_id>/", tasks.task_page, name="task-detail"),
    # Both sides: the vendor's queue of disputes (an admin settles them), a customer's own disputes.
    path("disputes/", disputes.dispute_list_page, name="dispute-list"),
    path("disputes/<int:dispute_id>/resolve/", disputes.dispute_resolve_action, name="dispute-resolve"),
    # The customer portal's ROI dashboard.
    path("roi/", customers.roi_page, name="roi"),
    path("roi/roi.csv", exports.roi_csv, name="roi-csv"),
    # The customer's word on its outcomes: confirm or reject (a dispute); the emailed one-click link needs no login.
    path("confirmations/", confirm.confirm_list_page, name="confirm-list"),
    path("confirmations/<int:event_id>/confirm/", confirm.confirm_action, {"decision": "confirm"},
         name="confirm-outcome"),
    path("confirmations/<int:event_id>/reject/", confirm.confirm_action, {"decision": "reject"},
         name="reject-outcome"),
    path("confirm/<str:token>/", confirm.confirm_link_page, name="confirm-link"),
    # The vendor console: its home (the organization's dashboard), receivables by age.
    path("dashboard/", dashboard.dashboard_page, name="dashboard"),
    path("aging/", aging.aging_page, name="aging"),
    path("aging/aging.csv", aging.aging_csv, name="aging-csv"),
    path("customers/", customers.customer_list_page, name="customer-list"),
    # External ids are the vendor's own strings too (slashes allowed); the export pattern is tried first.
    path("customers/<path:external_id>/roi.csv", exports.customer_roi_csv, name="customer-roi-csv"),
    # Before customer-detail: <path:...> would otherwise take "acme/events" as the customer's id.
    path("customers/<path:external_id>/events/trace/", events.event_trace_page, name="event-trace"),
    path("customers/<path:external_id>/events/usage.csv", events.customer_events_csv, name="customer-events-csv"),
    path("customers/<path:external_id>/events/", events.customer_events_page, name="customer-events"),
    path("customers/<path:external_id>/", customers.customer_page, name="customer-detail"),
    # Value (value app): baselines, sealed receipts and their share links (no login: the token is the key).
    path("value/baselines/", value_pages.baseline_list_page, name="value-baselines"),
    path("value/baselines/propose/", value_pages.baseline_propose_action, name="value-baseline-propose"),
    path("value/baselines/<int:baseline_id>/decide/", value_pages.baseline_decide_action,
         name="value-baseline-decide"),
    path("value/receipts/", value_pages.receipt_list_page, name="value-receipts"),
    path("value/receipts/<int:receipt_id>/", value_pages.receipt_page, name="value-receipt"),
    path("value/receipts/share/<str:token>/", value_pages.receipt_share_page, name="value-receipt-share"),
    path("value/receipts/share/<str:token>/receipt.json", value_pages.receipt_share_json,
         name="value-receipt-share-json"),
    path("value/receipts/share/<str:token>/receipt.pdf", value_pages.receipt_share_pdf,
         name="value-receipt-share-pdf"),
    path("value/simulator/", value_tool_pages.simulator_page, name="value-simulator"),
    path("value/efficiency/", value_tool_pages.efficiency_page, name="value-efficiency"),
    path("value/efficiency.csv", value_tool_pages.efficiency_csv, name="value-efficiency-csv"),
    # Stripe (payments app): the connection (vendor admins), the reconciliation, an invoice's push again.
    path("settings/stripe/", payments_pages.stripe_settings_page, name="payments-settings"),
    path("settings/stripe/disconnect/", payments_pages.stripe_disconnect_action, name="payments-disconnect"),
    path("payments/reconciliation/", payments_pages.reconciliation_page, name="payments-reconciliation"),
    path("invoices/<int:invoice_id>/stripe/retry/", payments_pages.invoice_stripe_retry, name="payments-retry"),
    path("runs/", runs.run_list_page, name="run-list"),
    path("runs/start/", runs.run_start, name="run-start"),
    path("runs/<int:run_id>/", runs.run_page, name="run-detail"),
    path("runs/<int:run_id>/progress.json", runs.run_progress_json, name="run-progress"),
    # Vendor admins only: API keys (created, listed, revoked) and the audit log of configuration and documents.
    path("settings/api-keys/", keys.api_key_list_page, name="api-key-list"),
    path("settings/api-keys/<int:api_key_id>/revoke/", keys.api_key_revoke_action, name="api-key-revoke"),
    path("settings/audit/", audit.audit_log_page, name="audit-log"),
    # Verification sources (vendor admins): add one (secret shown once), its callback address, rotate its secret.
    path("settings/verification-sources/", verification_source_pages.verification_source_list_page,
         name="verification-sources"),
    path("settings/verification-sources/<slug:code>/rotate/",
         verification_source_pages.verification_source_rotate_action, name="verification-source-rotate"),
    # Outbound webhooks (vendor admins): endpoints, their delivery log, resend.
    path("settings/webhooks/", webhook_pages.webhook_list_page, name="webhook-list"),
    path("settings/webhooks/<int:endpoint_id>/", webhook_pages.webhook_detail_page, name="webhook-detail"),
    path("settings/webhooks/<int:endpoint_id>/enable/", webhook_pages.webhook_toggle_action, {"enable": True},
         name="webhook-enable"),
    path("settings/webhooks/<int:endpoint_id>/disable/", webhook_pages.webhook_toggle_action, {"enable": False},
         name="webhook-disable"),
    path("settings/webhooks/<int:endpoint_id>/delete/", webhook_pages.webhook_delete_action,
         name="webhook-delete"),
    path("settings/webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/resend/",
         webhook_pages.webhook_resend_action, name="webhook-resend"),
]
