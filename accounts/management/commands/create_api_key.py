from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import ApiKey, Customer
from accounts.services import api_key_create, organization_get_or_create


class Command(BaseCommand):
    help = "Create an API key for an organization (created if missing); the key is printed last, alone."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organization", required=True, help="organization slug")
        parser.add_argument("--name", default="default", help="a label for the key")
        parser.add_argument("--customer", help="a read-only key for this customer (external_id)")
        parser.add_argument(
            "--scope", choices=ApiKey.Scope.values, default=ApiKey.Scope.ADMIN,
            help="ingest: posts events only; read: reads only; admin: everything (default)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        organization = organization_get_or_create(slug=options["organization"])
        customer = None
        if options["customer"]:
            customer = Customer.objects.filter(organization=organization, external_id=options["customer"]).first()
            if customer is None:
                raise CommandError(f"no customer {options['customer']!r} in {organization.slug}")
        api_key, raw_key = api_key_create(
            organization=organization, name=options["name"], customer=customer, scope=options["scope"]
        )
        self.stderr.write(
            f"Created {api_key.scope} API key {api_key.prefix}… for organization {organization.slug}."
        )
        self.stdout.write(raw_key)
