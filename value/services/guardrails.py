"""Margin guardrails (placeholder until step 5)."""


def guardrails_scan() -> int:
    return 0
