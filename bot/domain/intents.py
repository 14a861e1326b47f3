"""What a user can ask of PTM, as typed intents: the `/ptm` subcommands, what a mention of the bot
understands, and one dataclass per request. `bot.domain.grammar` reads text into them. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from bot.domain.model import (
    Attribution,
    Role,
    Stage,
)

SUBCOMMANDS = (
    "help",
    "new",
    "trio",
    "stage",
    "next",
    "done",
    "card",
    "list",
    "digest",
    "trigger",
    "attribution",
    "find",
    "brief",
    "log",
    "won",
    "lost",
    "metrics",
    "reopen",
    "partnership",
    "partner",
    "link",
    "aws",
)
# The subcommands that act on one deal: the channel's, or the one named by key.
DEAL_COMMANDS = frozenset(SUBCOMMANDS) - {
    "help", "new", "list", "digest", "find", "metrics", "partnership"
}  # fmt: skip
# What a bot mention understands: what a partner rep needs, who cannot use our slash command.
MENTION_COMMANDS = ("next", "stage", "done", "synced", "help")
MENTION_HELP = (
    "Mention me with one of: `next: &lt;text&gt; [for @user or role] [by &lt;date&gt;]`, "
    "`stage: &lt;stage&gt;`, `done`, `synced`, `help`. Or use the buttons on the deal card."
)


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class NewDeal:
    name: str | None


@dataclass(frozen=True)
class NewFromCrm:
    """`/ptm new <CRM URL>`: the deal made from a Salesforce opportunity or HubSpot deal."""

    reference: str


@dataclass(frozen=True)
class CoSellAws:
    """`/ptm aws`: AWS co-sell's pre-flight, the form, where the submission stands."""


@dataclass(frozen=True)
class LinkCrm:
    """`/ptm link <id or URL>`: link the deal to its CRM record."""

    reference: str


@dataclass(frozen=True)
class SetTrio:
    members: dict[Role, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SetStage:
    stage: Stage


@dataclass(frozen=True)
class SetNext:
    text: str
    role: Role | None = None
    user_id: str | None = None
    due: date | None = None


@dataclass(frozen=True)
class Done:
    pass


@dataclass(frozen=True)
class SetTrigger:
    reason: str


@dataclass(frozen=True)
class SetAttribution:
    attribution: Attribution | None


@dataclass(frozen=True)
class FindPartner:
    words: str


@dataclass(frozen=True)
class Brief:
    ask: str
    preview: bool = False


@dataclass(frozen=True)
class LogOutcome:
    text: str


@dataclass(frozen=True)
class SendDigest:
    pass


@dataclass(frozen=True)
class CloseDeal:
    won: bool
    reason: str = ""


@dataclass(frozen=True)
class Reopen:
    pass


@dataclass(frozen=True)
class ProposePartnership:
    """Propose a partnership to the company this Slack Connect channel is shared with."""


@dataclass(frozen=True)
class AddPartner:
    """`/ptm partner add @rep [cloud|isv|si|reseller|other]`: one more partner company."""

    user_id: str
    kind: str


@dataclass(frozen=True)
class RemovePartner:
    """`/ptm partner remove @rep`."""

    user_id: str


@dataclass(frozen=True)
class Status:
    """A question to the bot (`@PTM what is the status?`): where the deal stands, and what a
    mention can do."""


@dataclass(frozen=True)
class ShowMetrics:
    chart: bool = False


@dataclass(frozen=True)
class Synced:
    pass


@dataclass(frozen=True)
class PostCard:
    pass


@dataclass(frozen=True)
class ListDeals:
    pass


Intent = (
    Help
    | NewDeal
    | NewFromCrm
    | LinkCrm
    | CoSellAws
    | SetTrio
    | SetStage
    | SetNext
    | Done
    | Synced
    | PostCard
    | ListDeals
    | SendDigest
    | CloseDeal
    | ShowMetrics
    | ProposePartnership
)


@dataclass(frozen=True)
class Parsed:
    """An intent plus the deal it names explicitly (`PTM-<n>`), if any."""

    intent: Intent
    deal_number: int | None = None
