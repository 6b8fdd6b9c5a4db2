"""The outcome app's vocabulary, importable without its models: other apps compare statuses, never
reach the tables."""

from django.db import models


class OutcomeStatus(models.TextChoices):
    """An outcome event's status: pending until its verification window passes, then verified
    (billable), then billed; reversed, disputed or credited on the way."""

    PENDING = "pending"
    VERIFIED = "verified"
    BILLED = "billed"
    REVERSED = "reversed"
    DISPUTED = "disputed"
    CREDITED = "credited"
