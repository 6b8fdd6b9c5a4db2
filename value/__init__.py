"""Baselines the customer approves, sealed value receipts, the pricing simulator and the efficiency report."""
