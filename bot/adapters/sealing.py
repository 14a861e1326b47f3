"""Modal metadata sealed to the person the modal was opened for.

A modal's `private_metadata` says which deal and which channel a submission acts on. Slack
hands it back as it was set, but PTM does not rely on that alone: the metadata carries an HMAC
of itself and of the user it was opened for, so a submission whose metadata was altered, or
that comes from someone else, names no deal and no channel at all.
"""

from __future__ import annotations

import hashlib
import hmac

TAG_LENGTH = 22  # hex characters of the HMAC kept: 88 bits


class Seal:
    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"ptm-modal-metadata\0" + secret.encode()).digest()

    def _tag(self, user_id: str, raw: str) -> str:
        message = user_id.encode() + b"\0" + raw.encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:TAG_LENGTH]

    def seal(self, user_id: str, raw: str) -> str:
        return f"{self._tag(user_id, raw)}.{raw}"

    def unseal(self, user_id: str, sealed: str) -> str | None:
        """The metadata as it was sealed for `user_id`, or None when it was not."""
        tag, _, raw = sealed.partition(".")
        if not hmac.compare_digest(tag.encode(), self._tag(user_id, raw).encode()):
            return None
        return raw
