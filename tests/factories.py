"""factory_boy factories: one per model that tests build directly."""

from datetime import UTC, datetime
from decimal import Decimal

import factory

from accounts.models import Customer, Organization, User
from metering.models import Meter, Rate
from outcomes.models import OutcomeType


class OrganizationFactory(factory.django.DjangoModelFactory[Organization]):
    class Meta:
        model = Organization
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Vendor {n}")
    slug = factory.Sequence(lambda n: f"vendor-{n}")


class CustomerFactory(factory.django.DjangoModelFactory[Customer]):
    class Meta:
        model = Customer

    organization = factory.SubFactory(OrganizationFactory)
    external_id = factory.Sequence(lambda n: f"cust-{n}")
    name = factory.Sequence(lambda n: f"Customer {n}")
    currency = "USD"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    organization = factory.SubFactory(OrganizationFactory)
    role = User.Role.VENDOR_ADMIN
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")

    @factory.post_generation
    def persist(user: User, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            user.save()


class MeterFactory(factory.django.DjangoModelFactory[Meter]):
    class Meta:
        model = Meter

    organization = factory.SubFactory(OrganizationFactory)
    code = "llm_tokens"
    name = "LLM tokens"
    unit = "token"
    aggregation = Meter.Aggregation.SUM


class RateFactory(factory.django.DjangoModelFactory[Rate]):
    class Meta:
        model = Rate

    organization = factory.SelfAttribute("meter.organization")
    meter = factory.SubFactory(MeterFactory)
    dimensions = factory.LazyFunction(dict)
    dimension_count = factory.LazyAttribute(lambda rate: len(rate.dimensions))
    unit_cost = Decimal("2.50")
    per = Decimal(1_000_000)
    currency = "USD"
    effective_from = datetime(2020, 1, 1, tzinfo=UTC)


class OutcomeTypeFactory(factory.django.DjangoModelFactory[OutcomeType]):
    class Meta:
        model = OutcomeType

    organization = factory.SubFactory(OrganizationFactory)
    code = "ticket_resolved"
    name = "Ticket resolved"
    price = Decimal("0.99")
    currency = "USD"
    verification_window_hours = 0
    value = Decimal("6.50")
