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


class VerificationMethod(models.TextChoices):
    """How an outcome type's outcomes are verified; a type lists one or more, and any one suffices."""

    WINDOW = "window", "Window passes with no reversal"
    CUSTOMER_CONFIRMATION = "customer_confirmation", "The customer confirms"
    SYSTEM_OF_RECORD = "system_of_record", "A signed callback from the system of record"
    EVALUATOR = "evaluator", "An evaluator's score reaches the threshold"


class SourceMethod(models.TextChoices):
    """What a verification source reports by its signed callbacks."""

    SYSTEM_OF_RECORD = "system_of_record", "System of record"
    EVALUATOR = "evaluator", "Evaluator"


class Assurance(models.TextChoices):
    """How sure a billed outcome is: confirmed by evidence, or assumed from silence (the window)."""

    CONFIRMED = "confirmed"
    ASSUMED = "assumed"
