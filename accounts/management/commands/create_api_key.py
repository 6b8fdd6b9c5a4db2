from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from accounts.services import api_key_create, organization_get_or_create


class Command(BaseCommand):
    help = "Create an API key for an organization (created if missing); the key is printed last, alone."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organization", required=True, help="organization slug")
        parser.add_argument("--name", default="default", help="a label for the key")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = organization_get_or_create(slug=options["organization"])
        api_key, raw_key = api_key_create(organization=organization, name=options["name"])
        self.stderr.write(f"Created API key {api_key.prefix}… for organization {organization.slug}.")
        self.stdout.write(raw_key)
