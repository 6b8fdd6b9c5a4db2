"""Usage and outcome figures per customer, period and task, maintained as events arrive, so billing never rescans raw events."""
