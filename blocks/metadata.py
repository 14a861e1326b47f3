"""Typed, size-checked state carried through Slack: card refs in block ids, modal metadata."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from blocks.ids import CARD_BLOCK_PREFIX
from bot.domain.model import BadInput

PRIVATE_METADATA_LIMIT = 3000
BLOCK_ID_LIMIT = 255


class _Compact(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def encode(self, limit: int) -> str:
        raw = self.model_dump_json(exclude_none=True)
        assert len(raw) <= limit, f"{type(self).__name__} is {len(raw)} chars, limit {limit}"
        return raw

    @classmethod
    def decode(cls, raw: str) -> Any:
        try:
            return cls.model_validate_json(raw)
        except ValidationError:
            raise BadInput(
                "That control belongs to an older version of PTM. Use `/ptm card` for a fresh card."
            ) from None


class CardRef(_Compact):
    """Which deal a card control belongs to and the version the clicker saw."""

    d: int
    v: int

    def block_id(self, part: str) -> str:
        return f"{CARD_BLOCK_PREFIX}:{part}:{self.encode(BLOCK_ID_LIMIT - 40)}"

    @classmethod
    def from_block_id(cls, block_id: str) -> CardRef:
        _prefix, _part, raw = (block_id.split(":", 2) + ["", ""])[:3]
        ref: CardRef = cls.decode(raw)
        return ref


class AttachChoice(_Compact):
    """The deal and the partner an "Attach" button stands for."""

    d: int
    p: str


class NewDealMeta(_Compact):
    channel: str | None = None


class NextStepMeta(_Compact):
    d: int
    v: int
    channel: str | None = None


class EditDealMeta(_Compact):
    """Fingerprints of the values the user was shown (not the values: they could overflow the
    metadata), so a save changes only what they changed and spots what others changed."""

    d: int
    v: int
    channel: str | None = None
    shown: dict[str, str]


class OwnFieldsMeta(_Compact):
    """A partner company's own fields on deal `d`, as of their version `v` (0: none yet)."""

    d: int
    v: int
    channel: str | None = None


class ConnectorMeta(_Compact):
    """The CRM side a connector form is for, and the version the admin saw (0: none)."""

    side: str
    v: int


class PartnershipRef(_Compact):
    """A partnership and the version the admin saw (button values, the answer modal)."""

    p: int
    v: int


class ReferralMeta(_Compact):
    """Which AWS referral a rejection modal answers, and where its card is."""

    i: str
    channel: str | None = None


class ProposalMeta(_Compact):
    """Whom a proposal modal proposes to, and the channel it was opened from."""

    other: int
    channel: str | None = None
