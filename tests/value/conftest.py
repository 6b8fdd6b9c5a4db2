"""The portal's billing history (acme and globex over three months) and personas, for the value tests."""

from tests.portal.conftest import as_user, billed, globex, globex_finance, priced, vendor_member  # noqa: F401
