"""API: price books, prepaid credit grants and the wallet, notifications."""

from decimal import Decimal

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import customer_scope, organization_of
from accounts.api.views import scoped_customer_get
from accounts.selectors import customer_get
from billing.models import CreditGrant, Notification, PriceBook, PriceBookEntry
from billing.selectors.account import wallet_balances
from billing.services.price_books import EntrySpec, MeterSpec, price_book_create
from billing.services.wallet import credit_grant_create
from core.api.exceptions import ErrorSerializer
from core.api.fields import CURRENCY_SCHEMA, AmountField, CurrencyField, DecimalStringField, PeriodField, decimal_str
from core.errors import DomainError
from core.money import CURRENCY_MINOR_UNITS
from core.periods import period_parse


class TierInput(serializers.Serializer):
    up_to = serializers.IntegerField(min_value=1, allow_null=True)
    unit_price = DecimalStringField(min_value=Decimal(0))
    flat_fee = DecimalStringField(min_value=Decimal(0), required=False, default=Decimal(0))


class EntryInput(serializers.Serializer):
    outcome = serializers.CharField(max_length=100)
    model = serializers.ChoiceField(choices=PriceBookEntry.Model.choices, default=PriceBookEntry.Model.FLAT)
    unit_price = DecimalStringField(min_value=Decimal(0), required=False, allow_null=True, default=None)
    tiers = TierInput(many=True, required=False)
    package_size = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    package_price = DecimalStringField(min_value=Decimal(0), required=False, allow_null=True, default=None)
    assumed_price_factor = DecimalStringField(
        min_value=Decimal(0), integer_digits=1, required=False, allow_null=True, default=None,
        help_text="Price by assurance: the share of the price an assumed outcome (verified by silence, not "
                  "confirmed by evidence) pays, from 0 to 1 (0.8 = 80%). Null: the same price.")


class MeterPriceInput(serializers.Serializer):
    meter = serializers.CharField(max_length=100)
    unit_price = DecimalStringField(min_value=Decimal(0))
    per = DecimalStringField(positive=True, required=False, default=Decimal(1))
    included_quantity = DecimalStringField(min_value=Decimal(0), required=False, default=Decimal(0))


class PriceBookInput(serializers.Serializer):
    effective_from = PeriodField(help_text="The first period priced by this version, YYYY-MM.")
    currency = CurrencyField()
    platform_fee = DecimalStringField(min_value=Decimal(0), required=False, default=Decimal(0))
    included_outcomes = serializers.IntegerField(min_value=0, required=False, default=0)
    minimum_commit = DecimalStringField(min_value=Decimal(0), required=False, default=Decimal(0))
    spend_cap = DecimalStringField(min_value=Decimal(0), required=False, allow_null=True, default=None)
    entries = EntryInput(many=True, required=False, default=list)
    meters = MeterPriceInput(many=True, required=False, default=list)


class PriceBookOutput(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.external_id")
    effective_from = serializers.SerializerMethodField()
    platform_fee = AmountField(currency=lambda book: book.currency)
    minimum_commit = AmountField(currency=lambda book: book.currency)
    spend_cap = AmountField(currency=lambda book: book.currency, allow_null=True)
    entries = serializers.SerializerMethodField()
    meters = serializers.SerializerMethodField()

    class Meta:
        model = PriceBook
        fields = ["id", "customer", "version", "effective_from", "currency", "platform_fee", "included_outcomes",
                  "minimum_commit", "spend_cap", "entries", "meters", "created_at"]

    def get_effective_from(self, book: PriceBook) -> str:
        return book.effective_from.strftime("%Y-%m")

    @extend_schema_field(EntryInput(many=True))
    def get_entries(self, book: PriceBook) -> list[dict[str, object]]:
        return [
            {"outcome": e.outcome_type.code, "model": e.model,
             "unit_price": decimal_str(e.unit_price) if e.unit_price is not None else None,
             "tiers": e.tiers, "package_size": e.package_size,
             "package_price": decimal_str(e.package_price) if e.package_price is not None else None,
             "assumed_price_factor": None if e.assumed_price_factor is None else decimal_str(e.assumed_price_factor)}
            for e in book.entries.all()
        ]

    @extend_schema_field(MeterPriceInput(many=True))
    def get_meters(self, book: PriceBook) -> list[dict[str, object]]:
        return [
            {"meter": m.meter.code, "unit_price": decimal_str(m.unit_price), "per": decimal_str(m.per),
             "included_quantity": decimal_str(m.included_quantity)}
            for m in book.meter_prices.all()
        ]


class PriceBookListApi(APIView):
    @extend_schema(responses=PriceBookOutput(many=True))
    def get(self, request: Request, external_id: str) -> Response:
        customer = customer_get(organization=organization_of(request), external_id=external_id)
        books = PriceBook.objects.filter(customer=customer).prefetch_related(
            "entries__outcome_type", "meter_prices__meter").order_by("version")
        return Response(PriceBookOutput(books, many=True).data)

    @extend_schema(request=PriceBookInput, responses={201: PriceBookOutput, 409: ErrorSerializer},
                   description="409 when a version already takes effect from that month.")
    def post(self, request: Request, external_id: str) -> Response:
        customer = customer_get(organization=organization_of(request), external_id=external_id)
        data = PriceBookInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        entries = [
            EntrySpec(outcome=e["outcome"], model=e["model"], unit_price=e.get("unit_price"),
                      tiers=[{"up_to": t["up_to"], "unit_price": str(t["unit_price"]),
                              "flat_fee": str(t.get("flat_fee", 0))} for t in e.get("tiers", [])] or None,
                      package_size=e.get("package_size"), package_price=e.get("package_price"),
                      assumed_price_factor=e.get("assumed_price_factor"))
            for e in values["entries"]
        ]
        meters = [MeterSpec(**m) for m in values["meters"]]
        book = price_book_create(
            customer=customer, effective_from=period_parse(values["effective_from"], field="effective_from"),
            currency=values["currency"], entries=entries, meters=meters, platform_fee=values["platform_fee"],
            included_outcomes=values["included_outcomes"], minimum_commit=values["minimum_commit"],
            spend_cap=values["spend_cap"],
        )
        return Response(PriceBookOutput(book).data, status=status.HTTP_201_CREATED)


class CreditGrantInput(serializers.Serializer):
    amount = DecimalStringField(positive=True)
    currency = CurrencyField()
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    priority = serializers.IntegerField(min_value=0, max_value=1000, required=False, default=100)
    description = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)


class CreditGrantOutput(serializers.ModelSerializer):
    amount = AmountField(currency=lambda grant: grant.currency)

    class Meta:
        model = CreditGrant
        fields = ["id", "amount", "currency", "priority", "granted_at", "expires_at", "description"]


class CreditGrantListApi(APIView):
    @extend_schema(request=CreditGrantInput, responses={201: CreditGrantOutput})
    def post(self, request: Request, external_id: str) -> Response:
        customer = customer_get(organization=organization_of(request), external_id=external_id)
        data = CreditGrantInput(data=request.data)
        data.is_valid(raise_exception=True)
        grant = credit_grant_create(customer=customer, **data.validated_data)
        return Response(CreditGrantOutput(grant).data, status=status.HTTP_201_CREATED)


class WalletApi(APIView):
    customer_readable = True

    @extend_schema(
        parameters=[OpenApiParameter("currency", CURRENCY_SCHEMA, description="Defaults to the customer's currency.")],
        responses=dict,
    )
    def get(self, request: Request, external_id: str) -> Response:
        customer = scoped_customer_get(request, external_id)
        currency = (request.query_params.get("currency") or customer.currency).upper()
        if currency not in CURRENCY_MINOR_UNITS:
            raise DomainError(f"{currency!r} is not an ISO 4217 currency code.", field="currency")
        balances = wallet_balances(customer_id=customer.pk, currency=currency, at=timezone.now())
        return Response({
            "customer": customer.external_id, "currency": currency,
            "balance": decimal_str(sum((b.balance for b in balances), Decimal(0)), 2),
            "grants": [{**CreditGrantOutput(b.grant).data, "balance": decimal_str(b.balance, 2)} for b in balances],
        })


class NotificationOutput(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.external_id")
    period = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "customer", "kind", "period", "message", "data", "created_at"]

    def get_period(self, notification: Notification) -> str:
        return notification.period_start.strftime("%Y-%m")


class NotificationListApi(APIView):
    customer_readable = True

    @extend_schema(parameters=[OpenApiParameter("customer", str)], responses=NotificationOutput(many=True))
    def get(self, request: Request) -> Response:
        organization = organization_of(request)
        notifications = Notification.objects.filter(organization=organization).select_related("customer")
        scope = customer_scope(request)
        if scope is not None:
            notifications = notifications.filter(customer=scope)
        if request.query_params.get("customer"):
            customer = scoped_customer_get(request, request.query_params["customer"])
            notifications = notifications.filter(customer=customer)
        return Response(NotificationOutput(notifications.order_by("-created_at")[:500], many=True).data)
