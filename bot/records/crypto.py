"""Encryption at rest of the records' free text (Fernet: AES-128-CBC with HMAC-SHA256).

The key comes from ``BOT_RECORDS_KEY``; on embedded defaults one is made on first use in
``var/records.key`` (mode 0600, never committed: ``var/`` is ignored). ``db.open_database``
installs the cipher; ``EncryptedText`` columns use it on every read and write.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.types import LargeBinary, TypeDecorator

_cipher: Fernet | None = None
_digest_key: bytes | None = None


class RecordsKeyError(ValueError):
    """The records' key is missing or malformed; the message says what to do."""


def load_or_create_key(configured: str, key_file: Path) -> bytes:
    """The configured key, else the one in ``key_file``, made there if absent."""
    if configured:
        key = configured.encode("ascii", errors="ignore")
        origin = "BOT_RECORDS_KEY"
    elif key_file.is_file():
        key = key_file.read_bytes().strip()
        origin = str(key_file)
    else:
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key = Fernet.generate_key()
        # Written whole under a temporary name (mode 600), then linked into place: of processes
        # starting together one key wins, and the others read it complete, never an empty file.
        descriptor, temporary = tempfile.mkstemp(dir=key_file.parent, prefix=f".{key_file.name}.")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(key + b"\n")
            os.link(temporary, key_file)
        except FileExistsError:
            return load_or_create_key(configured, key_file)  # another process made it first
        finally:
            os.unlink(temporary)
        return key
    try:
        Fernet(key)
    except ValueError:
        raise RecordsKeyError(
            f"the records key from {origin} is not a Fernet key (32 url-safe base64 bytes); "
            "make one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'"
        ) from None
    return key


def install(key: bytes) -> None:
    """Use ``key`` for every ``EncryptedText`` column (and ``digest``) from now on."""
    global _cipher, _digest_key
    _cipher = Fernet(key)
    _digest_key = hmac.new(key, b"bot.records digest", hashlib.sha256).digest()


def digest(value: str) -> str:
    """A keyed digest of ``value`` (HMAC-SHA256 under a key derived from the records key): equal
    values match, and without the key the value cannot be guessed from a list of e-mails."""
    if _digest_key is None:
        raise RuntimeError("the records' key is not installed: open the database first")
    return hmac.new(_digest_key, value.strip().lower().encode("utf-8"), hashlib.sha256).hexdigest()


def cipher() -> Fernet:
    if _cipher is None:
        raise RuntimeError("the records' cipher is not installed: open the database first")
    return _cipher


class EncryptedText(TypeDecorator):
    """Text stored encrypted; None stays None (so "not recorded" is visible, not its content)."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return cipher().encrypt(str(value).encode("utf-8"))

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        try:
            return cipher().decrypt(bytes(value)).decode("utf-8")
        except InvalidToken:
            raise RuntimeError(
                "a record could not be decrypted: BOT_RECORDS_KEY (or var/records.key) is not the "
                "key these records were written with"
            ) from None
