"""Collection through Stripe: per-organization keys, invoice pushes, and Stripe's webhooks back."""
