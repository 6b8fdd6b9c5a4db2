"""API: baselines (the vendor proposes, a customer key approves or declines) and value receipts."""

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import ApiPrincipal, api_actor_label, customer_scope, organization_of
from accounts.api.views import scoped_customer_get
from core.api.exceptions import ErrorSerializer
from core.api.fields import AmountField, CurrencyField, DecimalStringField, PeriodField
from core.periods import period_parse
from value.models import Baseline, ValueReceipt
from value.selectors.baselines import baseline_get, baseline_list
from value.selectors.receipts import receipt_document, receipt_get, receipt_list, receipt_verify
from value.services.baselines import BaselineSpec, baseline_decide, baseline_propose


class BaselineInput(serializers.Serializer):
    outcome = serializers.CharField(max_length=100, help_text="The outcome type's code.")
    effective_from = PeriodField(help_text="The first period this version values, YYYY-MM.")
    method = serializers.ChoiceField(choices=Baseline.Method.choices,
                                     help_text="minutes: minutes × hourly_cost; flat: flat_value.")
    currency = CurrencyField(help_text="The customer's billing currency.")
    minutes = DecimalStringField(positive=True, required=False, allow_null=True, default=None,
                                 help_text="method=minutes: minutes of the customer's staff per outcome.")
    hourly_cost = DecimalStringField(min_value=Decimal(0), required=False, allow_null=True, default=None,
                                     help_text="method=minutes: loaded cost of one hour.")
    flat_value = DecimalStringField(min_value=Decimal(0), required=False, allow_null=True, default=None,
                                    help_text="method=flat: the value of one outcome.")
    note = serializers.CharField(max_length=300, required=False, default="", allow_blank=True)


class BaselineOutput(serializers.ModelSerializer):
    method = serializers.ChoiceField(choices=Baseline.Method.choices)
    status = serializers.ChoiceField(choices=Baseline.Status.choices)
    customer = serializers.CharField(source="customer.external_id")
    outcome = serializers.CharField(source="outcome_type.code")
    effective_from = serializers.SerializerMethodField()
    minutes = serializers.CharField(allow_null=True)
    hourly_cost = AmountField(currency=lambda b: b.currency, allow_null=True)
    flat_value = AmountField(currency=lambda b: b.currency, allow_null=True)
    value_per_outcome = serializers.CharField(help_text="Exact; a period's value is rounded once, in its total.")

    class Meta:
        model = Baseline
        fields = ["id", "customer", "outcome", "version", "effective_from", "method", "minutes", "hourly_cost",
                  "flat_value", "value_per_outcome", "currency", "note", "status", "proposed_by_label",
                  "proposed_at", "decided_by_label", "decided_at"]

    def get_effective_from(self, baseline: Baseline) -> str:
        return baseline.effective_from.strftime("%Y-%m")


class BaselineListApi(APIView):
    customer_readable = True

    @extend_schema(responses=BaselineOutput(many=True), description="Every version, newest first per type.")
    def get(self, request: Request, external_id: str) -> Response:
        customer = scoped_customer_get(request, external_id)
        baselines = baseline_list(organization=organization_of(request), customer=customer)
        return Response(BaselineOutput(baselines, many=True).data)

    @extend_schema(request=BaselineInput, responses={201: BaselineOutput},
                   description="Proposes a new version; the customer approves or declines it.")
    def post(self, request: Request, external_id: str) -> Response:
        customer = scoped_customer_get(request, external_id)
        data = BaselineInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        values["effective_from"] = period_parse(values["effective_from"], field="effective_from")
        baseline = baseline_propose(customer=customer, spec=BaselineSpec(**values),
                                    actor_label=api_actor_label(request))
        return Response(BaselineOutput(baseline).data, status=status.HTTP_201_CREATED)


class CustomerKeyOnly(permissions.BasePermission):
    """A customer's answer: only a key of a customer (a read key otherwise) may give it."""

    message = "Only a customer's own API key (or its portal user) approves or declines its baselines."

    def has_permission(self, request: Any, view: Any) -> bool:
        return isinstance(request.user, ApiPrincipal) and request.user.api_key.customer_id is not None


class BaselineDecisionApi(APIView):
    permission_classes = [CustomerKeyOnly]
    approve = True

    @extend_schema(request=None, responses={200: BaselineOutput, 409: OpenApiResponse(
        ErrorSerializer, description="The version was already approved or declined.")})
    def post(self, request: Request, external_id: str, baseline_id: int) -> Response:
        customer = scoped_customer_get(request, external_id)
        baseline = baseline_get(organization=organization_of(request), baseline_id=baseline_id, customer=customer)
        decided = baseline_decide(baseline=baseline, customer=customer, approve=self.approve,
                                  actor_label=api_actor_label(request))
        return Response(BaselineOutput(decided).data)


class BaselineDeclineApi(BaselineDecisionApi):
    approve = False


class ReceiptOutput(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.external_id")
    period = serializers.CharField()
    superseded_by = serializers.SerializerMethodField()

    class Meta:
        model = ValueReceipt
        fields = ["id", "customer", "period", "sequence", "reason", "content_hash", "previous_hash", "issued_at",
                  "superseded_by"]

    def get_superseded_by(self, receipt: ValueReceipt) -> int | None:
        later = getattr(receipt, "superseded_by", None)
        return later.pk if later is not None else None


class ReceiptVerificationOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    hash_ok = serializers.BooleanField()
    signature_ok = serializers.BooleanField()
    chain_ok = serializers.BooleanField()
    chain_length = serializers.IntegerField()
    problems = serializers.ListField(child=serializers.CharField())


class ReceiptDocumentOutput(serializers.Serializer):
    content = serializers.CharField(help_text="The signed canonical JSON, as a string (hash and verify its bytes).")
    content_hash = serializers.CharField()
    hash_algorithm = serializers.CharField()
    signature = serializers.CharField()
    signature_algorithm = serializers.CharField()
    public_key = serializers.CharField(help_text="Ed25519, raw 32 bytes, base64.")
    public_key_pem = serializers.CharField()
    key_id = serializers.CharField()
    previous_hash = serializers.CharField(allow_blank=True)
    verification = ReceiptVerificationOutput()


class ReceiptListApi(APIView):
    customer_readable = True

    @extend_schema(responses=ReceiptOutput(many=True))
    def get(self, request: Request, external_id: str) -> Response:
        customer = scoped_customer_get(request, external_id)
        return Response(ReceiptOutput(receipt_list(organization=organization_of(request), customer=customer),
                                      many=True).data)


class ReceiptDetailApi(APIView):
    customer_readable = True

    @extend_schema(responses=ReceiptDocumentOutput,
                   description="The receipt as signed, with the server's verification of it and its chain.")
    def get(self, request: Request, receipt_id: int) -> Response:
        receipt = receipt_get(organization=organization_of(request), receipt_id=receipt_id,
                              customer=customer_scope(request))
        check = receipt_verify(receipt)
        verification = {"ok": check.ok, "hash_ok": check.hash_ok, "signature_ok": check.signature_ok,
                        "chain_ok": check.chain_ok, "chain_length": check.chain_length, "problems": check.problems}
        return Response(ReceiptDocumentOutput({**receipt_document(receipt), "verification": verification}).data)
