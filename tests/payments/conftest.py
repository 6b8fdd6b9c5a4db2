"""The Stripe stand-in on a free port, and the SDK pointed at it."""

from collections.abc import Iterator

import pytest
import stripe

from payments.standin import StripeStandIn


@pytest.fixture
def standin() -> Iterator[StripeStandIn]:
    server = StripeStandIn().start()
    yield server
    server.stop()


@pytest.fixture
def stripe_base(standin: StripeStandIn, settings) -> str:
    """Every StripeClient the code builds talks to the stand-in."""
    settings.STRIPE_API_BASE = standin.url
    return standin.url


def sdk(standin: StripeStandIn, api_key: str) -> stripe.StripeClient:
    return stripe.StripeClient(api_key, base_addresses={"api": standin.url}, max_network_retries=0)
