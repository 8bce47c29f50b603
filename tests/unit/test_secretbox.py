"""The secret key file and AES-GCM sealing: values bound to their name, keys told apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from fnflow.secretbox import SecretBox, SecretKeyError, SecretUnavailable


def test_a_key_is_made_once_and_values_open_only_under_their_name_and_key(tmp_path: Path) -> None:
    box = SecretBox.load(tmp_path / "k", create=True)
    assert (tmp_path / "k").stat().st_mode & 0o777 == 0o600
    assert SecretBox.load(tmp_path / "k", create=True) == box, "made once"
    sealed = box.seal("svc", "db", b"value")
    assert b"value" not in sealed and box.seal("svc", "db", b"value") != sealed, "a new nonce each time"
    assert box.open("svc", "db", sealed, box.key_id) == b"value"
    with pytest.raises(SecretUnavailable, match="it was changed in the database"):
        box.open("svc", "other", sealed, box.key_id)
    other = SecretBox.load(tmp_path / "k2", create=True)
    with pytest.raises(
        SecretUnavailable, match=f"is encrypted with key {box.key_id}, and this process has key"
    ):
        other.open("svc", "db", sealed, box.key_id)


def test_no_key_and_bad_keys_say_what_to_do(tmp_path: Path) -> None:
    none = SecretBox.load(tmp_path / "absent", create=False)
    assert (none.key, none.key_id) == (None, "")
    with pytest.raises(SecretUnavailable, match="this process has no secret key"):
        none.seal("svc", "db", b"x")
    (tmp_path / "bad").write_text("not a key\n")
    with pytest.raises(SecretKeyError, match="is not an fnflow secret key"):
        SecretBox.load(tmp_path / "bad", create=True)
