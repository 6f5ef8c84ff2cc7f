"""Encryption at rest of task data and results (optional): Fernet keys from DAEMON_ENCRYPTION_KEY.

With the variable set, the SQL queues store a task's data and its result as ``fernet:<token>``
(AES-128-CBC with HMAC-SHA256, from ``cryptography``); the prefix is not valid JSON, so a value
written before the key was set (plain JSON) is told apart from an encrypted one, and both stay
readable. The variable holds one key or several, comma-separated: the first encrypts, every one
decrypts (MultiFernet), which is how keys are rotated: put the new key first, keep the old ones
after it until ``taskdaemond reencrypt`` has rewritten the stored values with the new one.

Values are decrypted only inside a daemon that holds a key. Without one, the API shows them as
encrypted (ENCRYPTED_MARKER, and the record's ``encrypted`` field names them) and the daemon
does not claim an encrypted task (another daemon, with the key, runs it). The key is never
logged, never shown in an error, and never given to a handler (handlers get a clean
environment: runtime/process.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import ModuleType
from typing import TYPE_CHECKING

from taskdaemond.errors import ConfigError
from taskdaemond.queue.models import AttemptError, NewTask

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

#: The environment variable holding the keys.
KEY_VARIABLE = "DAEMON_ENCRYPTION_KEY"
#: What starts an encrypted value: not valid JSON, so never mistaken for a plain one.
PREFIX = "fernet:"
#: What the API shows in place of a value this daemon cannot decrypt.
ENCRYPTED_MARKER = {
    "encrypted": True,
    "message": f"encrypted at rest; only a daemon started with its key in {KEY_VARIABLE} can read it",
}


class CannotDecrypt(Exception):
    """Raised when no key this daemon holds decrypts a stored value."""


def is_encrypted(stored: str | bytes) -> bool:
    """True when a stored data or result value is encrypted (a plain one is JSON)."""
    if isinstance(stored, bytes):
        return stored.startswith(PREFIX.encode())
    return stored.startswith(PREFIX)


def _fernet() -> ModuleType:
    """cryptography's Fernet, imported only by a daemon that has a key: loading it costs about
    7 MiB of resident memory, which every daemon without encryption would pay for nothing."""
    from cryptography import fernet  # noqa: PLC0415 - see above

    return fernet


class Cipher:
    """Encrypts with the first key, decrypts with any."""

    def __init__(self, keys: list[bytes]) -> None:
        fernet = _fernet()
        self._fernet: MultiFernet = fernet.MultiFernet([fernet.Fernet(key) for key in keys])
        self._invalid_token: type[Exception] = fernet.InvalidToken
        self.key_count = len(keys)

    def __repr__(self) -> str:  # never the keys
        return f"Cipher({self.key_count} keys)"

    def encrypt(self, text: str) -> str:
        return PREFIX + self._fernet.encrypt(text.encode()).decode("ascii")

    def decrypt(self, stored: str) -> str:
        """The plain JSON text of an encrypted value; CannotDecrypt if no key opens it."""
        try:
            return self._fernet.decrypt(stored[len(PREFIX) :].encode("ascii")).decode()
        except (self._invalid_token, UnicodeError) as exc:
            raise CannotDecrypt(f"none of the {self.key_count} keys in {KEY_VARIABLE} decrypts it") from exc

    def reencrypt(self, stored: str) -> str:
        """An encrypted value encrypted again with the first key (or a plain one encrypted)."""
        if not is_encrypted(stored):
            return self.encrypt(stored)
        try:
            return PREFIX + self._fernet.rotate(stored[len(PREFIX) :].encode("ascii")).decode("ascii")
        except (self._invalid_token, UnicodeError) as exc:
            raise CannotDecrypt(f"none of the {self.key_count} keys in {KEY_VARIABLE} decrypts it") from exc


def cipher_from_environment(env: Mapping[str, str]) -> Cipher | None:
    """The Cipher of DAEMON_ENCRYPTION_KEY, None when it is unset or empty. ConfigError names a
    bad key by its position, never by its value."""
    raw = env.get(KEY_VARIABLE, "").strip()
    if not raw:
        return None
    keys = [part.strip() for part in raw.split(",")]
    for index, key in enumerate(keys, start=1):
        try:
            _fernet().Fernet(key.encode())
        except (ValueError, UnicodeError):
            where = f"key {index} of {len(keys)}" if len(keys) > 1 else "the key"
            raise ConfigError(
                KEY_VARIABLE,
                None,
                f"{where} is not a Fernet key (32 bytes, url-safe base64: "
                "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')",
            ) from None
    return Cipher([key.encode() for key in keys])


def seal(task: NewTask, cipher: Cipher | None) -> NewTask:
    """``task`` as a SQL queue stores it: data encrypted when the daemon holds a key."""
    if cipher is None:
        return task
    return replace(task, data_json=cipher.encrypt(task.data_json), encrypted=True)


def seal_text(text: str | None, cipher: Cipher | None) -> str | None:
    """A result (or any stored JSON text) encrypted when the daemon holds a key."""
    return text if text is None or cipher is None else cipher.encrypt(text)


def reveal(stored: str, cipher: Cipher | None) -> str | None:
    """The plain JSON text of a stored value, or None when it is encrypted and no key here
    decrypts it."""
    if not is_encrypted(stored):
        return stored
    if cipher is None:
        return None
    try:
        return cipher.decrypt(stored)
    except CannotDecrypt:
        return None


#: ENCRYPTED_MARKER as JSON text, for a dependency's result in a task message.
MARKER_JSON = json.dumps(ENCRYPTED_MARKER, separators=(",", ":"))


def unreadable_error(attempt: int, cipher: Cipher | None, now: float) -> AttemptError:
    """Why a claimed task whose data cannot be decrypted failed (it is not retried: a redrive
    runs it again once a key that fits is in place)."""
    reason = (
        f"its key is not among the {cipher.key_count} keys in {KEY_VARIABLE}"
        if cipher is not None
        else f"this daemon has no {KEY_VARIABLE}"
    )
    return AttemptError(
        attempt=attempt,
        error=f"EncryptedData: the task's data is encrypted at rest and {reason}; redrive it once "
        "a daemon holds the key",
        error_type="EncryptedData",
        retryable=False,
        at=now,
    )


@dataclass
class Reencrypted:
    """What ``taskdaemond reencrypt`` did: values rewritten under the first key, and values no
    key opens (left as they are)."""

    rewritten: int = 0
    unreadable: int = 0


def reencrypt_rows(
    rows: list[tuple[int, str]], cipher: Cipher, tally: Reencrypted
) -> tuple[list[tuple[str, int]], list[int]]:
    """The rewrites ``(new value, seq)`` of a batch of stored values, and the seqs whose value
    was plain before (their task is marked encrypted)."""
    rewrites: list[tuple[str, int]] = []
    were_plain: list[int] = []
    for seq, stored in rows:
        try:
            rewrites.append((cipher.reencrypt(stored), seq))
        except CannotDecrypt:
            tally.unreadable += 1
            continue
        if not is_encrypted(stored):
            were_plain.append(seq)
    tally.rewritten += len(rewrites)
    return rewrites, were_plain
