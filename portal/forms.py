from django import forms

from accounts.models import Customer
from billing.models import Invoice
from billing.periods import Period, period_parse
from config.errors import DomainError


class PeriodField(forms.CharField):
    """A calendar month as YYYY-MM (what `<input type="month">` sends)."""

    widget = forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"})

    def to_python(self, value: object) -> Period | None:  # type: ignore[override]
        text = super().to_python(value)
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

    def __init__(
        self, *args: object, customers: "forms.models.QuerySet[Customer] | None" = None, **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if customers is None:
            del self.fields["customer"]
        else:
            self.fields["customer"].queryset = customers  # type: ignore[attr-defined]


class DisputeForm(forms.Form):
    reason = forms.CharField(
        max_length=2000,
        min_length=5,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "What is wrong with this outcome?"}),
        help_text="The vendor sees this reason. While a dispute is open the outcome is held out of billing.",
    )


class BillingRunForm(forms.Form):
    period = PeriodField()
