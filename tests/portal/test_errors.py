"""The portal's error pages: helpful words in the portal's frame, JSON under /api/."""

import pytest
from django.test import RequestFactory

from portal.views.errors import server_error
from tests.portal.conftest import login

pytestmark = pytest.mark.django_db


def test_unknown_page_gets_the_portal_404(finance_user) -> None:
    response = login(finance_user).get("/no/such/page/")
    assert response.status_code == 404
    assert b"There is nothing here" in response.content
    assert b"Back to the portal" in response.content


def test_server_error_page_renders_without_a_database(rf: RequestFactory) -> None:
    response = server_error(rf.get("/invoices/"))
    assert response.status_code == 500
    assert b"Something broke on our side" in response.content


def test_an_account_without_organization_is_refused(db) -> None:
    from accounts.models import User

    orphan = User.objects.create_user(username="orphan", password="x" * 12, role=User.Role.VENDOR_ADMIN)
    response = login(orphan).get("/invoices/")
    assert response.status_code == 403
