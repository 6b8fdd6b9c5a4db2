"""Stripe's webhook: POST /webhooks/stripe/<organization>. Thin: the service verifies and applies."""

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.errors import DomainError, PayloadTooLarge
from payments.services.events import stripe_event_receive


@csrf_exempt  # Stripe signs its requests (Stripe-Signature); it has no session or CSRF token
@require_POST
def stripe_webhook(request: HttpRequest, organization: str) -> JsonResponse:
    """2xx once the event is recorded (a replay included, which changes nothing); 400 for a forged, stale or
    unsigned one, so Stripe shows the failure on the endpoint; 404 where no organization has Stripe."""
    try:
        received = stripe_event_receive(organization_slug=organization, payload=request.body,
                                        signature=request.headers.get("Stripe-Signature"))
    except RequestDataTooBig:
        too_large = PayloadTooLarge("The body is over the upload limit.", field="body")
        return JsonResponse(too_large.as_dict(), status=too_large.status)
    except DomainError as exc:
        return JsonResponse(exc.as_dict(), status=exc.status)
    event = received.event
    return JsonResponse({"received": event.event_id, "type": event.type, "replayed": received.replayed,
                         "outcome": event.outcome})
