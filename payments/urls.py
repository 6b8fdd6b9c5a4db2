from django.urls import path

from payments.views import stripe_webhook

app_name = "payments"

urlpatterns = [
    # The URL to register in Stripe's dashboard (Developers → Webhooks), one per organization.
    path("<slug:organization>", stripe_webhook, name="stripe-webhook"),
    path("<slug:organization>/", stripe_webhook),
]
