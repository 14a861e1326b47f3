"""Secrets at rest (Slack tokens, connector credentials) encrypted with PTM_SECRET_KEY.

Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`): a stored value cannot be read or
altered without the key. Several keys may be given, newest first: the newest encrypts, any
decrypts, so a key is rotated by putting the new one in front and re-saving at leisure.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

# Fernet tokens are URL-safe base64 of a version byte 0x80: they all begin so.
SEALED_PREFIX = "gAAAAA"


class UnreadableSecret(Exception):
    """A stored secret that none of the keys opens (PTM_SECRET_KEY changed or was lost)."""


class SecretBox:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one key")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])

    def seal(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise UnreadableSecret(
                "a stored secret cannot be decrypted with PTM_SECRET_KEY: was the key changed? "
                "Put the old key after the new one (comma-separated) to read it"
            ) from None

    @staticmethod
    def is_sealed(value: str) -> bool:
        return value.startswith(SEALED_PREFIX)
