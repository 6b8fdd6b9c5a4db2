"""The environment readers: a list, like the secrets' encryption keys, from the variable or from a file."""

from pathlib import Path

import pytest

from config.env import env_list


def test_a_list_is_read_from_the_variable_or_from_the_file_it_names(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TALLY_TEST_KEYS", raising=False)
    monkeypatch.delenv("TALLY_TEST_KEYS_FILE", raising=False)
    assert env_list("TALLY_TEST_KEYS", ["default"]) == ["default"]
    monkeypatch.setenv("TALLY_TEST_KEYS", "a, b,,c")
    assert env_list("TALLY_TEST_KEYS", []) == ["a", "b", "c"]
    keys = tmp_path / "keys"
    keys.write_text("new-key,old-key\n")
    monkeypatch.setenv("TALLY_TEST_KEYS_FILE", str(keys))
    assert env_list("TALLY_TEST_KEYS", []) == ["new-key", "old-key"]  # the file wins, as for env_str
