"""Health endpoints for load balancers and orchestrators.

`/healthz`: the process answers (no database query, no broker call), for a liveness probe.
`/readyz`: the database and the broker are reachable, for a readiness probe: 200, or 503 naming
which is down. Without a broker (CELERY_BROKER_URL unset, tasks run in-process) there is none to check.
"""

from collections.abc import Callable

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu import Connection

# A probe is answered well inside the usual 5 s probe timeout even when a dependency hangs.
CHECK_TIMEOUT_SECONDS = 2.0


def database_check() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")


def broker_check() -> None:
    url = settings.CELERY_BROKER_URL
    if not url:
        return
    with Connection(url, connect_timeout=CHECK_TIMEOUT_SECONDS) as connection:
        connection.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT_SECONDS)


CHECKS: dict[str, Callable[[], None]] = {"database": database_check, "broker": broker_check}


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            check()
            results[name] = "ok"
        # Any failure means "not ready"; its class names the cause without leaking hosts or passwords.
        except Exception as exc:
            results[name] = f"down ({type(exc).__name__})"
    down = sorted(name for name, result in results.items() if result != "ok")
    body: dict[str, object] = {"status": "ok" if not down else "unavailable", "checks": results}
    if down:
        body["down"] = down
    return JsonResponse(body, status=503 if down else 200)
