"""Login throttling (django-axes): per account and per address, on the portal and the admin login."""

from datetime import timedelta
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.hashers import MD5PasswordHasher
from django.test import Client

from accounts.models import User
from tests.factories import UserFactory

PASSWORD = "correct horse battery"  # tests.factories.UserFactory's
ATTACKER = "203.0.113.9"


def _login(client: Client, username: str, password: str, address: str, path: str = "/login/") -> int:
    response = client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)
    return response.status_code


@pytest.fixture
def alice(db: None) -> User:
    return UserFactory.create(username="alice", role=User.Role.VENDOR_ADMIN)


def test_forty_wrong_passwords_lock_the_account_even_against_the_right_one(alice: User) -> None:
    client = Client()
    answers = [_login(client, "alice", f"guess-{n}", ATTACKER) for n in range(40)]
    assert answers[0] == 200, "a wrong password re-shows the form"
    assert answers[-1] == 429, "the account is locked long before the 40th try"

    response = client.post("/login/", {"username": "alice", "password": PASSWORD}, REMOTE_ADDR=ATTACKER)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    page = response.content.decode()
    assert "Too many failed logins" in page
    assert f"After {settings.AXES_FAILURE_LIMIT} failed attempts" in page
    assert "Try again after" in page
    assert int(response["Retry-After"]) == int(settings.AXES_COOLOFF_TIME.total_seconds())


def test_the_same_account_from_another_address_is_locked_too(alice: User) -> None:
    for n in range(settings.AXES_FAILURE_LIMIT):
        _login(Client(), "alice", f"guess-{n}", ATTACKER)
    assert _login(Client(), "alice", PASSWORD, "198.51.100.7") == 429


def test_another_account_from_another_address_still_logs_in(alice: User) -> None:
    UserFactory.create(username="bob", role=User.Role.VENDOR_ADMIN)
    for n in range(40):
        _login(Client(), "alice", f"guess-{n}", ATTACKER)

    client = Client()
    assert _login(client, "bob", PASSWORD, "198.51.100.7") == 302
    assert client.session["_auth_user_id"]


def test_the_attacking_address_is_locked_for_every_account(alice: User) -> None:
    UserFactory.create(username="bob", role=User.Role.VENDOR_ADMIN)
    for n in range(settings.AXES_FAILURE_LIMIT):
        _login(Client(), f"nobody-{n}", "guess", ATTACKER)
    assert _login(Client(), "bob", PASSWORD, ATTACKER) == 429


def test_the_lockout_lifts_after_the_cool_off(alice: User) -> None:
    for n in range(settings.AXES_FAILURE_LIMIT):
        _login(Client(), "alice", f"guess-{n}", ATTACKER)
    assert _login(Client(), "alice", PASSWORD, ATTACKER) == 429

    # The cool-off passes: the failures are now older than AXES_COOLOFF_TIME.
    past = settings.AXES_COOLOFF_TIME + timedelta(seconds=1)
    for attempt in AccessAttempt.objects.all():
        AccessAttempt.objects.filter(pk=attempt.pk).update(attempt_time=attempt.attempt_time - past)

    client = Client()
    assert _login(client, "alice", PASSWORD, ATTACKER) == 302
    assert client.session["_auth_user_id"] == str(alice.pk)


def test_a_locked_out_attempt_never_runs_the_password_hasher(alice: User, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(settings.AXES_FAILURE_LIMIT):
        _login(Client(), "alice", f"guess-{n}", ATTACKER)
    calls: list[str] = []
    real_verify, real_encode = MD5PasswordHasher.verify, MD5PasswordHasher.encode

    def verify(self: MD5PasswordHasher, *args: Any) -> Any:
        calls.append("verify")
        return real_verify(self, *args)

    def encode(self: MD5PasswordHasher, *args: Any) -> Any:
        calls.append("encode")
        return real_encode(self, *args)

    monkeypatch.setattr(MD5PasswordHasher, "verify", verify)
    monkeypatch.setattr(MD5PasswordHasher, "encode", encode)

    for _ in range(5):
        assert _login(Client(), "alice", PASSWORD, ATTACKER) == 429
    assert calls == []


def test_the_admin_login_is_throttled_too(alice: User) -> None:
    alice.is_staff = True
    alice.save()
    for n in range(settings.AXES_FAILURE_LIMIT):
        _login(Client(), "alice", f"guess-{n}", ATTACKER, path="/admin/login/")
    assert _login(Client(), "alice", PASSWORD, ATTACKER, path="/admin/login/") == 429
