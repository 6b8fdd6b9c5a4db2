"""Billing's reads, one module a sub-domain: invoices, runs, ROI, late events, a customer's account.

The API, the portal, the management commands and the services call the same function for the same
read. Each takes the organization (and, for a customer's user, the customer) and filters on it first,
so a caller cannot reach another tenant's rows by passing a foreign id.
"""
