import pytest

from metering import ingestion as usage
from outcomes import ingestion as outcomes


@pytest.fixture(autouse=True)
def _fresh_ingest_caches() -> None:
    """Meter and outcome type ids are cached per process; each test starts with none remembered."""
    usage._meters.clear()
    outcomes._types.clear()
