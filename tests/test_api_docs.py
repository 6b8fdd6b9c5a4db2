"""The OpenAPI schema and the browsable docs, served without any CDN."""

import re

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
