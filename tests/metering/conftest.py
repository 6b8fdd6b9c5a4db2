import pytest

from metering import services


@pytest.fixture(autouse=True)
def _fresh_ingest_caches() -> None:
    """Customer and meter ids are cached per process; each test starts with none remembered."""
    services._customers.clear()
    services._meters.clear()
