from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import Q, QuerySet

from accounts.models import Customer
from billing.models import Invoice, InvoiceLine
from billing.services.credit_notes import CreditSpec
from core.errors import DomainError
from core.money import money_check
from core.periods import Period, period_parse

_FieldT = TypeVar("_FieldT", bound=forms.Field)


def _field(form: forms.BaseForm, name: str, kind: type[_FieldT]) -> _FieldT:
    """A field the form declares, as the kind it is declared as (to set its queryset or choices)."""
    field = form.fields[name]
    assert isinstance(field, kind), f"{name} is a {type(field).__name__}"
    return field


class PeriodField(forms.Field):
    """A calendar month as YYYY-MM (what `<input type="month">` sends)."""

    widget = forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"})

    def to_python(self, value: Any) -> Period | None:
        text = "" if value in self.empty_values else str(value).strip()
        if not text:
            return None
        try:
            return period_parse(text)
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc


class InvoiceFilterForm(forms.Form):
    customer = forms.ModelChoiceField(
        queryset=Customer.objects.none(),
        required=False,
        to_field_name="external_id",
        empty_label="All customers",
    )
    period = PeriodField(required=False)
    status = forms.ChoiceField(choices=[("", "Any status"), *Invoice.Status.choices], required=False)
    overdue = forms.BooleanField(required=False, label="Overdue only",
                                 help_text="Past the due date with something left to pay.")

    def __init__(self, *args: Any, customers: QuerySet[Customer] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if customers is None:
            del self.fields["customer"]
        else:
            _field(self, "customer", forms.ModelChoiceField).queryset = customers


class DisputeForm(forms.Form):
    reason = forms.CharField(
        max_length=2000,
        min_length=5,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "What is wrong with this outcome?"}),
        help_text="The vendor sees this reason. While a dispute is open the outcome is held out of billing.",
    )


class BillingRunForm(forms.Form):
    """A billing run for a period: every customer, or the one picked."""

    period = PeriodField()
    customer = forms.ModelChoiceField(
        queryset=Customer.objects.none(),
        required=False,
        to_field_name="external_id",
        empty_label="All customers",
    )

    def __init__(self, *args: Any, customers: QuerySet[Customer], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _field(self, "customer", forms.ModelChoiceField).queryset = customers


class CreditNoteForm(forms.Form):
    """Credit whole lines of the invoice, or an amount, or both; the reason goes on the credit note."""

    reason = forms.CharField(
        max_length=2000,
        min_length=5,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Why is this invoice being credited?"}),
        help_text="Printed on the credit note the customer receives.",
    )
    lines = forms.ModelMultipleChoiceField(queryset=InvoiceLine.objects.none(), required=False)
    amount = forms.DecimalField(
        required=False, min_value=Decimal("0.000001"), max_digits=20, decimal_places=6
    )
    description = forms.CharField(max_length=300, required=False, strip=True)

    def __init__(self, *args: Any, lines: QuerySet[InvoiceLine], currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _field(self, "lines", forms.ModelMultipleChoiceField).queryset = lines
        self.currency = currency

    def clean_amount(self) -> Decimal | None:
        amount: Decimal | None = self.cleaned_data.get("amount")
        if amount is not None:
            try:
                money_check(amount, self.currency, field="amount")
            except DomainError as exc:
                raise forms.ValidationError(exc.message) from exc
        return amount

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("lines") and data.get("amount") is None and not self.errors:
            raise forms.ValidationError("Choose at least one line to credit, or enter an amount.")
        return data

    def items(self) -> list[CreditSpec]:
        items = [
            CreditSpec(line.amount, f"Credit: {line.description}"[:300], line)
            for line in self.cleaned_data["lines"]
        ]
        if self.cleaned_data.get("amount") is not None:
            items.append(
                CreditSpec(
                    self.cleaned_data["amount"], self.cleaned_data.get("description") or "Credit", None
                )
            )
        return items


# "Select all matching" takes at most this many lines at once; a larger correction is an amount.
SELECT_ALL_LIMIT = 2000


def creditable_outcome_types(lines: QuerySet[InvoiceLine]) -> list[tuple[str, str]]:
    """(code, name) of the outcome types among `lines`, for the search's type filter."""
    return list(
        lines.filter(outcome_type__isnull=False)
        .order_by("outcome_type__name", "outcome_type__code")
        .values_list("outcome_type__code", "outcome_type__name")
        .distinct()
    )


class CreditLineSearchForm(forms.Form):
    """The credit-note form's line search: by task id or description, outcome type and kind."""

    q = forms.CharField(max_length=200, required=False, strip=True, label="Task id or description")
    outcome_type = forms.ChoiceField(required=False, label="Outcome type")
    kind = forms.ChoiceField(required=False, choices=[("", "Any kind"), *InvoiceLine.Kind.choices])

    def __init__(self, data: Any, *, types: list[tuple[str, str]]) -> None:
        super().__init__(data)
        _field(self, "outcome_type", forms.ChoiceField).choices = [("", "All outcome types"), *types]

    def filter(self, lines: QuerySet[InvoiceLine]) -> QuerySet[InvoiceLine]:
        if not self.is_valid():
            return lines
        if text := self.cleaned_data.get("q"):
            lines = lines.filter(Q(task_id__icontains=text) | Q(description__icontains=text))
        if code := self.cleaned_data.get("outcome_type"):
            lines = lines.filter(outcome_type__code=code)
        if kind := self.cleaned_data.get("kind"):
            lines = lines.filter(kind=kind)
        return lines

    @staticmethod
    def chosen_ids(data: Any, *, lines: QuerySet[InvoiceLine], matching: QuerySet[InvoiceLine]) -> list[int]:
        """The lines chosen so far (posted checkboxes and hidden fields), changed by the button pressed;
        only creditable lines of this invoice count."""
        if data is None:
            return []
        # Ids only: digits that fit a bigint (a longer number would make the database refuse the query).
        ids = {int(value) for value in data.getlist("lines") if str(value).isdigit() and len(str(value)) < 19}
        action = data.get("action")
        if action == "select_all":
            ids |= set(matching.values_list("pk", flat=True)[:SELECT_ALL_LIMIT])
        elif action == "clear":
            ids = set()
        if not ids:
            return []
        return sorted(lines.filter(pk__in=ids).values_list("pk", flat=True))

    def page_number(self, data: Any) -> str | None:
        source = data if data is not None else self.data
        value = source.get("page")
        return str(value) if value is not None else None


class DisputeResolveForm(forms.Form):
    decision = forms.ChoiceField(choices=[("accept", "Accept"), ("reject", "Reject")])
    note = forms.CharField(
        max_length=2000,
        min_length=3,
        strip=True,
        widget=forms.Textarea(
            attrs={"rows": 2, "placeholder": "What did you find? The customer sees this note."}
        ),
    )


# The days a filter may name: wide enough for any event, narrow enough that the day after `to` exists
# (9999-12-31 + 1 day overflows) and PostgreSQL can compare it.
_EVENT_DAYS = [
    MinValueValidator(date(1970, 1, 1), "Pick a day from 1970-01-01 on."),
    MaxValueValidator(date(2999, 12, 31), "Pick a day up to 2999-12-31."),
]


class UsageEventFilterForm(forms.Form):
    """The event debugger's filters: task, meter and a range of days (UTC, `to` inclusive)."""

    task_id = forms.CharField(max_length=200, required=False, label="Task")
    meter = forms.ChoiceField(required=False)
    day_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}), validators=_EVENT_DAYS
    )
    day_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}), validators=_EVENT_DAYS
    )

    def __init__(self, *args: Any, meters: dict[int, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _field(self, "meter", forms.ChoiceField).choices = [("", "All meters")] + [
            (str(pk), code) for pk, code in sorted(meters.items(), key=lambda item: item[1])
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("day_from") and data.get("day_to") and data["day_from"] > data["day_to"]:
            raise forms.ValidationError("“From” is after “To”.")
        return data
