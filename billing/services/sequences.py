from django.db.models import F

from billing.models import DocumentSequence

PREFIX = {"invoice": "INV", "credit_note": "CN"}


def sequence_next(*, organization_id: int, kind: str) -> str:
    """The next gapless number of a kind; call inside the transaction that uses it (a rollback
    releases the number with everything else, so there are no gaps)."""
    DocumentSequence.objects.get_or_create(organization_id=organization_id, kind=kind)
    sequence = DocumentSequence.objects.select_for_update().get(organization_id=organization_id, kind=kind)
    DocumentSequence.objects.filter(pk=sequence.pk).update(last_value=F("last_value") + 1)
    return f"{PREFIX[kind]}-{sequence.last_value + 1:06d}"
