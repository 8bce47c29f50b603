"""The server key that encrypts secrets at rest, kept in a file outside the database.

Values are sealed with AES-256-GCM (``cryptography``), bound to their namespace and name, so a
value copied to another row does not open. The key is 32 random bytes, stored base64 in a file
of mode 0600: ``--secret-key-file`` (env ``FNFLOW_SECRET_KEY_FILE``), by default
``<data dir>/secret.key``. A server on SQLite creates that file on its first start. Processes
sharing a PostgreSQL database must share one key, so none of them ever makes one: give each the
same file (``fnflow secret keygen FILE`` writes a new one). Each stored value records the id of
its key (a fingerprint, not the key), so a process whose key differs, or that has none, says so
— at start, in the server log, and in the error of whatever needs the value — instead of
failing obscurely.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fnflow.errors import FnflowError, Unavailable

KEY_FILE = "secret.key"
VERSION = b"\x01"  # of the sealed format: version, 12-byte nonce, ciphertext and tag
log = logging.getLogger(__name__)


class SecretKeyError(FnflowError):
    """The secret key file cannot be used (the message says why and what to do)."""

    code = "InvalidArgument"


class SecretUnavailable(Unavailable):
    """A secret cannot be read or written by this process (no key, another key, or tampered)."""


def new_key_file(path: Path) -> None:
    """Write a new random key to ``path`` (mode 0600); FileExistsError if there is one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(base64.urlsafe_b64encode(AESGCM.generate_key(bit_length=256)).decode() + "\n")


def key_id_of(key: bytes) -> str:
    return hashlib.sha256(b"fnflow secret key\0" + key).hexdigest()[:16]


@dataclass(frozen=True)
class SecretBox:
    path: Path  # where the key is (or was looked for)
    key: bytes | None  # None: this process has no key

    @property
    def key_id(self) -> str:
        return key_id_of(self.key) if self.key is not None else ""

    @classmethod
    def load(cls, path: Path, *, create: bool) -> SecretBox:
        """The key in ``path``; a new one there if it does not exist and ``create``; else no key."""
        if create and not path.exists():
            try:
                new_key_file(path)
                log.info("created the secret key %s", path)
            except FileExistsError:  # another process made it a moment ago
                pass
        try:
            text = path.read_text().strip()
        except FileNotFoundError:
            return cls(path, None)
        except OSError as e:
            raise SecretKeyError(f"cannot read the secret key file {path}: {e.strerror}") from None
        try:
            key = base64.urlsafe_b64decode(text.encode())
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != 32:
            raise SecretKeyError(
                f"{path} is not an fnflow secret key (base64 of 32 bytes): make one with"
                " `fnflow secret keygen FILE`"
            )
        if path.stat().st_mode & 0o077:
            log.warning("the secret key file %s can be read by other users: chmod 600 it", path)
        return cls(path, key)

    def seal(self, namespace: str, name: str, value: bytes) -> bytes:
        if self.key is None:
            raise SecretUnavailable(self._no_key())
        nonce = os.urandom(12)
        return VERSION + nonce + AESGCM(self.key).encrypt(nonce, value, _context(namespace, name))

    def open(self, namespace: str, name: str, sealed: bytes, key_id: str) -> bytes:
        if self.key is None:
            raise SecretUnavailable(f"secret {name!r} cannot be read: {self._no_key()}")
        if key_id != self.key_id:
            raise SecretUnavailable(
                f"secret {name!r} is encrypted with key {key_id}, and this process has key {self.key_id}"
                f" ({self.path}): start every process sharing the database with the same --secret-key-file"
            )
        try:
            if sealed[:1] != VERSION:
                raise InvalidTag
            return AESGCM(self.key).decrypt(sealed[1:13], sealed[13:], _context(namespace, name))
        except InvalidTag:
            raise SecretUnavailable(
                f"secret {name!r} does not decrypt with key {key_id}: it was changed in the database"
            ) from None

    def _no_key(self) -> str:
        return (
            f"this process has no secret key ({self.path} does not exist): give every process sharing"
            " the database the same --secret-key-file (make one with `fnflow secret keygen FILE`)"
        )


def _context(namespace: str, name: str) -> bytes:
    return f"fnflow secret\0{namespace}\0{name}".encode()
