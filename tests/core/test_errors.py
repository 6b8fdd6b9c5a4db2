"""Every domain error has a stable code from one enum and the HTTP status that code means."""

import pytest
from rest_framework.test import APIRequestFactory

from core.api.exceptions import exception_handler
from core.errors import (
    BadEncoding,
    Conflict,
    DomainError,
    ErrorCode,
    InvalidJson,
    InvalidState,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServiceUnavailable,
)


@pytest.mark.parametrize(("error", "code", "status"), [
    (DomainError, ErrorCode.INVALID, 400), (InvalidJson, ErrorCode.INVALID_JSON, 400),
    (BadEncoding, ErrorCode.BAD_ENCODING, 400), (PayloadTooLarge, ErrorCode.PAYLOAD_TOO_LARGE, 413),
    (NotFound, ErrorCode.NOT_FOUND, 404), (Conflict, ErrorCode.CONFLICT, 409),
    (InvalidState, ErrorCode.INVALID_STATE, 409),
])
def test_each_error_answers_its_status_with_its_code_and_field(error: type[DomainError], code: ErrorCode,
                                                                status: int) -> None:
    request = APIRequestFactory().get("/")
    response = exception_handler(error("What went wrong.", field="currency"), {"request": request})
    assert response is not None
    assert response.status_code == status
    assert response.data == {"code": code.value, "detail": "What went wrong.",
                              "errors": {"currency": "What went wrong."}}


def test_every_code_belongs_to_exactly_one_error_class() -> None:
    classes: list[type[DomainError]] = [DomainError, InvalidJson, BadEncoding, PayloadTooLarge, NotFound,
                                        Conflict, InvalidState, RateLimited, ServiceUnavailable]
    assert sorted(cls.code for cls in classes) == sorted(ErrorCode)


@pytest.mark.parametrize(("error", "status"), [(RateLimited, 429), (ServiceUnavailable, 503)])
def test_an_error_that_asks_to_wait_says_how_long_in_retry_after(error: type[RateLimited], status: int) -> None:
    response = exception_handler(error("Later.", retry_after=7), {"request": APIRequestFactory().get("/")})
    assert response is not None
    assert (response.status_code, response["Retry-After"]) == (status, "7")
