"""Usage and outcome figures per customer, period and task, kept as events arrive: billing never rescans
raw events."""
