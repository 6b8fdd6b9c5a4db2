"""The OpenAPI schema and the browsable docs, served without any CDN."""

import re
from pathlib import Path

import pytest
import yaml


@pytest.mark.django_db
def test_schema_describes_the_v1_contract(client) -> None:
    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    paths = set(schema["paths"])
    for path in ["/api/v1/customers", "/api/v1/customers/{external_id}", "/api/v1/meters", "/api/v1/rates",
                 "/api/v1/outcome-types", "/api/v1/usage-events", "/api/v1/outcome-events",
                 "/api/v1/outcome-events/{idempotency_key}/reverse", "/api/v1/billing-runs",
                 "/api/v1/billing-runs/{run_id}", "/api/v1/invoices", "/api/v1/invoices/{invoice_id}",
                 "/api/v1/customers/{external_id}/roi"]:
        assert path in paths, path
    assert "ApiKey" in schema["components"]["securitySchemes"]


@pytest.mark.django_db
def test_docs_page_loads_its_assets_from_the_app(client) -> None:
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    # Every script and stylesheet comes from our own /static/ (no CDN: this machine has no internet).
    # Only the attributes are checked: the page's CSRF token is random text that may spell "cdn".
    assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert assets and all(url.startswith("/") and not url.startswith("//") for url in assets), assets
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in assets


def test_schema_generates_without_warnings(capsys) -> None:
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


@pytest.mark.django_db
def test_docs_page_runs_under_the_content_security_policy(client) -> None:
    page = client.get("/api/docs/")
    html = page.content.decode()
    policy = page["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    # Every script is a file of this app: none inline, which the policy would block.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), html
    init = re.findall(r"""<script src="([^"]+\?script[^"]*)">""", html)
    assert init, html
    script = client.get(init[0].replace("&amp;", "&"))
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.content


@pytest.mark.browser
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_swagger_ui_renders_its_operations_in_a_browser_without_csp_violations(live_server) -> None:
    from tests.portal.test_browser import chromium

    with chromium() as browser:
        page = browser.new_page()
        problems: list[str] = []
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.goto(f"{live_server.url}/api/docs/")
        page.wait_for_selector(".opblock-summary-path", timeout=30_000)  # an operation rendered from the schema
        operations = page.locator(".opblock-summary-path").count()

    assert operations > 20
    assert not [problem for problem in problems if "Content Security Policy" in problem], problems
