import pytest

from metering import ingestion


@pytest.fixture(autouse=True)
def _fresh_ingest_caches() -> None:
    """Meter ids are cached per process (customer ids too, cleared in tests/conftest.py); each test
    starts with none remembered."""
    ingestion._meters.clear()
