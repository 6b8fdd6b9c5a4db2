"""`manage.py archive_usage [--export-dir DIR] [--today YYYY-MM-DD]`: export and remove the usage events
past their organization's retention whose period's invoices are final (billing.services.archive)."""

from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from billing.services.archive import usage_archive


class Command(BaseCommand):
    help = "Export (gzip CSV) and remove usage events past retention whose invoices are final."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--export-dir", help="where the files go (default: USAGE_ARCHIVE_DIR)")
        parser.add_argument("--today", help="YYYY-MM-DD (default: today)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            today = date.fromisoformat(options["today"]) if options["today"] else timezone.now().date()
        except ValueError as error:
            raise CommandError(f"--today: {error}") from error
        export_dir = Path(options["export_dir"] or getattr(settings, "USAGE_ARCHIVE_DIR", "archive"))
        archived = usage_archive(today=today, export_dir=export_dir)
        for item in archived:
            self.stdout.write(f"{item.organization} {item.period}: {item.rows} events to {item.path}")
        self.stdout.write(f"{len(archived)} organization-month(s) archived.")
