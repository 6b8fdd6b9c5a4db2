"""Reports read from the replica when one is configured; everything else, and every write, the primary."""

from typing import Any

from django.test import override_settings

from billing.models import Invoice
from config.routers import ReplicaRouter
from core.replica import REPLICA, reader_alias, replica_reads, report_reader

WITH_REPLICA: dict[str, dict[str, Any]] = {"default": {}, REPLICA: {}}


def test_report_reads_go_to_the_replica_and_nothing_else_does() -> None:
    router = ReplicaRouter()
    with override_settings(DATABASES=WITH_REPLICA):
        assert router.db_for_read(Invoice) is None  # not a report: the primary
        with replica_reads():
            assert router.db_for_read(Invoice) == REPLICA
            assert reader_alias() == REPLICA
            assert router.db_for_write(Invoice) == "default"
        assert router.db_for_read(Invoice) is None
        assert report_reader(reader_alias)() == REPLICA
        assert router.allow_migrate(REPLICA, "billing") is False
        assert router.allow_migrate("default", "billing") is True


def test_without_a_replica_reports_read_the_primary() -> None:
    router = ReplicaRouter()
    with override_settings(DATABASES={"default": {}}), replica_reads():
        assert router.db_for_read(Invoice) is None
        assert reader_alias() == "default"
