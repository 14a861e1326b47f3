"""What partnership screens show: the forms, the message to the other company's admins, the
lines of an admin's App Home. Domain types only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.partnership import Partnership


@dataclass(frozen=True)
class ProposalForm:
    """To one company (from its shared channel), or to one of `choices` (tenant, name) picked
    in the form (from App Home)."""

    other_tenant: int | None
    other_name: str
    channel_id: str | None
    choices: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class AnswerForm:
    partnership_id: int
    version: int
    other_name: str
    their_shares: tuple[str, ...]


@dataclass(frozen=True)
class Tell:
    """A message for the other company's admins, sent by its own installation."""

    tenant: int
    admins: tuple[str, ...]
    text: str
    partnership_id: int
    version: int
    answer: bool = False  # a proposal: the message offers Review / Decline


@dataclass(frozen=True)
class PartnershipLine:
    """One partnership with the other company's name, for App Home."""

    partnership: Partnership
    other_name: str
    proposed_by: str
    updated_at: datetime
