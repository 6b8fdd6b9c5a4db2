"""Writes of the payments app: connecting Stripe, pushing invoices and credit notes, receiving events."""
