"""API: verification with evidence. The customer confirms or rejects (its own key), an evaluator posts a
score (the vendor's key), a verification source calls back (signed, no key), and anyone allowed to see
an outcome reads its evidence."""

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from accounts.api.authentication import ApiPrincipal, api_actor_label, customer_scope, organization_of
from accounts.api.throttling import CALLBACK, rate_limit_wait
from core.api.fields import CodeField, DecimalStringField
from core.errors import NotFound
from outcomes.enums import SourceMethod, VerificationMethod
from outcomes.models import OutcomeEvent, VerificationSource
from outcomes.selectors import OutcomeProof, outcome_evidence, outcomes_awaiting_confirmation, verification_source_list
from outcomes.signing import SIGNATURE_HEADER
from outcomes.verification import (
    EvidenceIn,
    outcome_confirm,
    outcome_reject,
    outcome_score_record,
    verification_callback_receive,
    verification_source_create,
    verification_source_secret_rotate,
)

# Control characters and spaces spelled out: Python's \s and JavaScript's (the schema's) disagree on some.
HTTP_URL = r"^https?://[^\x00-\x20\x7f]+$"


class CustomerKeyOnly(permissions.BasePermission):
    """Confirming or rejecting is the customer's word: only a key bound to one customer may say it."""

    message = ("Only the customer confirms or rejects its outcomes: use an API key of that customer, the portal, "
               "or the emailed link.")

    def has_permission(self, request: Any, view: Any) -> bool:
        return isinstance(request.user, ApiPrincipal) and request.user.api_key.customer_id is not None


class EvidenceOutput(serializers.Serializer):
    method = serializers.ChoiceField(choices=VerificationMethod.choices)
    verdict = serializers.ChoiceField(choices=["confirmed", "rejected"])
    who = serializers.CharField()
    at = serializers.DateTimeField(help_text="When the source says it happened.")
    recorded_at = serializers.DateTimeField()
    score = serializers.CharField(allow_null=True)
    threshold = serializers.CharField(allow_null=True)
    evaluator = serializers.CharField(allow_blank=True)
    external_id = serializers.CharField(allow_blank=True)
    url = serializers.CharField(allow_blank=True)
    note = serializers.CharField(allow_blank=True)


class OutcomeProofOutput(serializers.Serializer):
    idempotency_key = serializers.CharField()
    status = serializers.ChoiceField(choices=OutcomeEvent.Status.choices)
    assurance = serializers.ChoiceField(choices=["confirmed", "assumed", ""],
                                        help_text="confirmed by evidence, assumed from silence, or '' while pending.")
    verified_by = serializers.CharField(allow_blank=True)
    confirmed_at = serializers.DateTimeField(allow_null=True)
    summary = serializers.CharField()
    evidence = EvidenceOutput(many=True)


def proof_data(proof: OutcomeProof) -> dict[str, Any]:
    return proof.as_dict()


def _proof(request: Request, *, idempotency_key: str) -> OutcomeProof:
    organization, customer = organization_of(request), customer_scope(request)
    events = OutcomeEvent.objects.filter(organization=organization, idempotency_key=idempotency_key)
    if customer is not None:
        events = events.filter(customer=customer)
    event_id = events.values_list("pk", flat=True).first()
    if event_id is None:
        raise NotFound(f"No outcome event with idempotency_key {idempotency_key!r}.", field="idempotency_key")
    return outcome_evidence(organization_id=organization.pk, event_ids=[event_id])[event_id]


class OutcomeEvidenceApi(APIView):
    customer_readable = True

    @extend_schema(responses=OutcomeProofOutput, summary="An outcome's assurance and evidence")
    def get(self, request: Request, idempotency_key: str) -> Response:
        return Response(proof_data(_proof(request, idempotency_key=idempotency_key)))


class ConfirmInput(serializers.Serializer):
    note = serializers.CharField(max_length=2000, required=False, default="", allow_blank=True)


class RejectInput(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class OutcomeConfirmApi(APIView):
    permission_classes = [CustomerKeyOnly]

    @extend_schema(request=ConfirmInput, responses=OutcomeProofOutput,
                   summary="The customer confirms its outcome (customer API key only)")
    def post(self, request: Request, idempotency_key: str) -> Response:
        data = ConfirmInput(data=request.data)
        data.is_valid(raise_exception=True)
        customer = customer_scope(request)
        assert customer is not None  # CustomerKeyOnly
        outcome_confirm(organization=organization_of(request), customer_id=customer.pk,
                        idempotency_key=idempotency_key, note=data.validated_data["note"],
                        actor_label=api_actor_label(request))
        return Response(proof_data(_proof(request, idempotency_key=idempotency_key)))


class OutcomeRejectApi(APIView):
    permission_classes = [CustomerKeyOnly]

    @extend_schema(request=RejectInput, responses=OutcomeProofOutput,
                   summary="The customer rejects its outcome: a dispute opens (customer API key only)")
    def post(self, request: Request, idempotency_key: str) -> Response:
        data = RejectInput(data=request.data)
        data.is_valid(raise_exception=True)
        customer = customer_scope(request)
        assert customer is not None  # CustomerKeyOnly
        outcome_reject(organization=organization_of(request), customer_id=customer.pk,
                       idempotency_key=idempotency_key, reason=data.validated_data["reason"],
                       actor_label=api_actor_label(request))
        return Response(proof_data(_proof(request, idempotency_key=idempotency_key)))


class AwaitingOutput(serializers.Serializer):
    idempotency_key = serializers.CharField()
    outcome = serializers.CharField(source="outcome_type.code")
    task_id = serializers.CharField()
    timestamp = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=OutcomeEvent.Status.choices)


class OutcomesAwaitingApi(APIView):
    permission_classes = [CustomerKeyOnly]

    @extend_schema(responses=AwaitingOutput(many=True),
                   summary="The customer's outcomes awaiting its confirmation (customer API key only)")
    def get(self, request: Request) -> Response:
        customer = customer_scope(request)
        assert customer is not None  # CustomerKeyOnly
        events = outcomes_awaiting_confirmation(organization_id=customer.organization_id, customer_id=customer.pk)
        return Response(AwaitingOutput(events, many=True).data)


class ScoreInput(serializers.Serializer):
    # evidence scores are numeric(12, 6) columns: 6 integer digits.
    score = DecimalStringField(integer_digits=6)
    evaluator = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    external_id = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    # http(s) only: a bare URI ("mailto:", "portal:x") is no link to a trace a person can open.
    url = serializers.RegexField(HTTP_URL, max_length=1000, required=False, default="", allow_blank=True,
                                 help_text="An http(s) link to the judged trace or the survey answer.")
    note = serializers.CharField(max_length=2000, required=False, default="", allow_blank=True)


class OutcomeScoreApi(APIView):
    @extend_schema(request=ScoreInput, responses={201: OutcomeProofOutput},
                   summary="An evaluator's score: at or over the type's threshold it confirms, under it reverses")
    def post(self, request: Request, idempotency_key: str) -> Response:
        data = ScoreInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        outcome_score_record(
            organization=organization_of(request), idempotency_key=idempotency_key, score=values["score"],
            evidence=EvidenceIn(evaluator=values["evaluator"], external_id=values["external_id"], url=values["url"],
                                note=values["note"]),
            actor_label=api_actor_label(request),
        )
        return Response(proof_data(_proof(request, idempotency_key=idempotency_key)), status=status.HTTP_201_CREATED)


class SourceInput(serializers.Serializer):
    code = CodeField()
    name = serializers.CharField(max_length=200)
    method = serializers.ChoiceField(choices=SourceMethod.choices)


class SourceOutput(serializers.ModelSerializer):
    code = serializers.CharField()
    callback_path = serializers.SerializerMethodField()

    class Meta:
        model = VerificationSource
        fields = ["code", "name", "method", "callback_path", "created_at", "disabled_at"]

    def get_callback_path(self, source: VerificationSource) -> str:
        return f"/api/v1/verification/{source.organization.slug}/{source.code}"


class SourceWithSecretOutput(SourceOutput):
    secret = serializers.CharField(help_text="Shown at creation and rotation only: the HMAC key of callbacks.")

    class Meta(SourceOutput.Meta):
        fields = [*SourceOutput.Meta.fields, "secret"]


class VerificationSourceListApi(APIView):
    @extend_schema(responses=SourceOutput(many=True))
    def get(self, request: Request) -> Response:
        sources = verification_source_list(organization_id=organization_of(request).pk).select_related("organization")
        return Response(SourceOutput(sources, many=True).data)

    @extend_schema(request=SourceInput, responses={201: SourceWithSecretOutput})
    def post(self, request: Request) -> Response:
        data = SourceInput(data=request.data)
        data.is_valid(raise_exception=True)
        source = verification_source_create(organization=organization_of(request), **data.validated_data)
        return Response(SourceWithSecretOutput(source).data, status=status.HTTP_201_CREATED)


class VerificationSourceRotateApi(APIView):
    @extend_schema(request=None, responses=SourceWithSecretOutput,
                   summary="A new secret for the source; the old one stops verifying at once")
    def post(self, request: Request, code: str) -> Response:
        source = verification_source_secret_rotate(organization=organization_of(request), code=code)
        return Response(SourceWithSecretOutput(source).data)


class CallbackInput(serializers.Serializer):
    """The callback body, documented; it is read from the raw bytes once the signature over them holds."""

    id = serializers.CharField(max_length=200, help_text="The source's delivery id: a retry repeats it.")
    idempotency_key = serializers.CharField(max_length=200, required=False,
                                            help_text="The outcome; or name it by customer, task_id and outcome.")
    customer = serializers.CharField(max_length=200, required=False)
    task_id = serializers.CharField(max_length=200, required=False)
    outcome = serializers.CharField(max_length=200, required=False, help_text="The outcome type's code.")
    verdict = serializers.ChoiceField(choices=["confirmed", "rejected"], required=False,
                                      help_text="A system of record's word (required from one).")
    score = serializers.CharField(required=False, help_text="An evaluator's score (required from one).")
    evaluator = serializers.CharField(max_length=200, required=False)
    external_id = serializers.CharField(max_length=200, required=False, help_text="The ticket, PR or survey id.")
    url = serializers.CharField(max_length=1000, required=False)
    note = serializers.CharField(max_length=2000, required=False)
    occurred_at = serializers.DateTimeField(required=False)


class CallbackOutput(serializers.Serializer):
    duplicate = serializers.BooleanField(help_text="This delivery id was recorded before; nothing changed.")
    outcome = OutcomeProofOutput()


class SourceRateThrottle(BaseThrottle):
    """A source's callbacks share one budget (setting CALLBACK_RATE_LIMIT, 600/min by default), counted
    per organization and source in the shared cache before anything is looked up: a flood, signed or not,
    gets 429 with Retry-After instead of reaching the database."""

    def __init__(self) -> None:
        self._wait: int | None = None

    def allow_request(self, request: Any, view: Any) -> bool:
        path = f"{view.kwargs.get('organization', '')}/{view.kwargs.get('source', '')}"
        self._wait = rate_limit_wait(api_key_id=path, scope=CALLBACK)
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait


class VerificationCallbackApi(APIView):
    """No API key: the body's HMAC signature, by the source's secret, is the credential."""

    authentication_classes: list[Any] = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [SourceRateThrottle]

    @extend_schema(
        request=CallbackInput, auth=[],
        parameters=[OpenApiParameter("organization", str, OpenApiParameter.PATH),
                    OpenApiParameter("source", str, OpenApiParameter.PATH)],
        responses=CallbackOutput,
        summary="A verification source's signed callback (Tally-Signature: t=<unix>,v1=<HMAC-SHA256>)",
        description=f"Signed with the source's secret: `{SIGNATURE_HEADER}: t=<unix seconds>,v1=<hex HMAC-SHA256 of "
                    "'<t>.<raw body>'>`. A missing, malformed, forged or stale signature (over 300 s) answers 401; "
                    "a delivery id already recorded answers 200 with `duplicate: true` and changes nothing. A source's "
                    "callbacks over CALLBACK_RATE_LIMIT (600 a minute by default) answer 429 with Retry-After.",
    )
    def post(self, request: Request, organization: str, source: str) -> Response:
        result = verification_callback_receive(
            organization_slug=organization, source_code=source, body=request.body,
            signature=request.headers.get(SIGNATURE_HEADER),
        )
        proof = outcome_evidence(organization_id=result.outcome.organization_id, event_ids=[result.outcome.pk])
        return Response({"duplicate": result.duplicate, "outcome": proof_data(proof[result.outcome.pk])})
