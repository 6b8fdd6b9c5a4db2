"""schemathesis over the whole OpenAPI schema, in-process (WSGI), as the vendor's API key on a seeded database.

Every built-in check runs: no 5xx, no status code the schema does not document, responses that conform
to the schema, and no valid request rejected. The budget (MAX_EXAMPLES per operation) keeps the run
within about a minute and a half; `-s` prints the number of cases run.
"""

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.wsgi import application
from tests.portal.conftest import billed, globex  # noqa: F401  (fixtures: a seeded database)

# 25 cases an operation (~40 operations) runs in about a minute on this machine's two shared cores.
MAX_EXAMPLES = 25


def _operations(schema: Any) -> list[Any]:
    return [result.ok() for result in schema.get_all_operations()]


# Known open failures (issue 9), each a schema that promises less than the view checks or a response
# the schema does not describe: ST202 (valid request rejected: `period`, `currency` and date ranges have
# no pattern or bounds in the schema; unknown body keys; credit-note, dispute-resolve and billing-run
# bodies) and ST108 (meters, rates, outcome types, customers answer fields the schema does not match).
@pytest.mark.xfail(strict=False, reason="schemathesis still finds ST202/ST108 failures listed above (issue 9)")
@pytest.mark.django_db(transaction=True)
def test_every_operation_holds_every_schemathesis_check(billed) -> None:  # noqa: F811
    schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
    headers = {"Authorization": f"Bearer {billed.vendor.api.raw_key}"}
    failures: dict[str, str] = {}
    cases = 0

    def runner(operation: Any) -> Any:
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(data=st.data())
        def run(data: st.DataObject) -> None:
            nonlocal cases
            case = data.draw(operation.as_strategy())
            cases += 1
            case.call_and_validate(headers=headers)

        return run

    for operation in _operations(schema):
        run = runner(operation)
        try:
            run()
        except BaseException as exc:  # noqa: BLE001  (one operation's failure must not hide the next's)
            failures[operation.label] = f"{type(exc).__name__}: {str(exc)[:1500]}"

    print(f"\nschemathesis: {cases} cases over {len(_operations(schema))} operations")
    assert not failures, "\n\n".join(f"{label}\n{detail}" for label, detail in failures.items())
