"""Frozen view models that services return and `blocks/` renders. Domain types only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from bot.domain.capability import Ranked
from bot.domain.cosell import AwsStatus, CoSellForm


@dataclass(frozen=True)
class MemberView:
    role: str
    user_id: str | None
    synced: bool = False
    synced_version: int = 0
    is_external: bool = False
    kind: str | None = None  # a partner company's role on the deal
    team_id: str | None = None
    # A copy for another partner company shows this one only as its company and role (our
    # default policy between partner companies): the rep and their sync state are left out.
    company: str | None = None


@dataclass(frozen=True)
class StepView:
    id: int
    text: str
    owner_user: str | None
    owner_role: str | None
    due: date | None
    overdue: bool
    owner_label: str | None = None  # the owner's company, when this copy leaves their rep out


@dataclass(frozen=True)
class InternalView:
    """Internal-only fields, present in a view only when its audience is our own org."""

    notes: str
    forecast_category: str | None


@dataclass(frozen=True)
class CardView:
    """Everything the canonical deal card shows, already decided; the builder only lays it out."""

    deal_id: int
    key: str
    name: str
    account: str
    stage: str
    status: str
    amount: str
    close_date: date | None
    attribution: str | None
    partner: str | None
    members: tuple[MemberView, ...]
    next_step: StepView | None
    cosell: tuple[tuple[str, bool], ...]
    version: int
    updated_by: str
    updated_at: datetime
    stages: tuple[str, ...]
    internal: InternalView | None = None
    trigger: str = ""
    # (whose CRM, delivery state, partner company's team) of the latest outcome's deliveries
    crm: tuple[tuple[str, str, str | None], ...] = ()
    aws: str | None = None  # the AWS co-sell submission's state, in words
    aws_offered: bool = False  # the card offers *Co-sell with AWS*
    # A copy in a shared channel offers our own people a private look at the internal fields.
    offers_internal_view: bool = False
    close_reason: str = ""
    # A copy for a partner company under a partnership: the fields our policy does not share
    # with it (blanked above; the card says "not shared"), and, while the partnership is
    # paused, the note that says so (then the card shows nothing but the deal's name).
    withheld: frozenset[str] = frozenset()
    paused_note: str | None = None


@dataclass(frozen=True)
class PartnersForm:
    """The deal's partner companies (rep, role on the deal), for adding and removing."""

    deal_id: int
    key: str
    version: int
    partners: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class OwnFieldsForm:
    """A partner company's own internal fields on a deal another company (`home`) shares with
    it: kept by PTM for that company only."""

    deal_id: int
    key: str
    name: str
    home: str
    notes: str
    forecast_category: str | None
    crm_id: str
    version: int


@dataclass(frozen=True)
class DealLine:
    """One row of `/ptm list`."""

    key: str
    name: str
    stage: str
    next_step: str | None
    owner_user: str | None
    due: date | None
    overdue: bool
    # A partner company's deal shared with us (a partnership): its name, and what it holds back.
    company: str | None = None
    step_shared: bool = True
    paused: bool = False
    owner_label: str | None = None  # the owner's company, when it is another partner company


@dataclass(frozen=True)
class EditForm:
    """The edit-deal modal's fields as strings, as the user sees and types them."""

    deal_id: int
    key: str
    version: int
    name: str
    account: str
    amount: str
    currency: str
    close_date: date | None
    attribution: str | None
    internal: InternalView | None = None
    trigger: str = ""
    # What each field held when the form was made, as fingerprints (bot.forms.fingerprint).
    shown: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NextStepForm:
    deal_id: int
    key: str
    version: int
    text: str = ""
    owner_role: str | None = None
    due: date | None = None
    roles: tuple[tuple[str, str | None], ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Reply:
    """What a use case says back to the caller, and which deal's card must be refreshed."""

    text: str
    kind: str = "notice"  # "notice" (a sentence) or "list" (the caller's deals in `lines`)
    deal_id: int | None = None
    changed: bool = False
    lines: tuple[DealLine, ...] = ()
    post_card: bool = False
    learn_teams: bool = False  # new trio members whose org is still to be asked of Slack
    # (deal id, version): the answer offers a one-click *Change owner* for the next step.
    owner_change: tuple[int, int] | None = None


@dataclass(frozen=True)
class HistoryEntry:
    version: int
    actor: str
    org: str
    changes: tuple[tuple[str, object, object], ...]  # field, old, new
    source: str
    at: datetime


@dataclass(frozen=True)
class HistoryView:
    key: str
    name: str
    entries: tuple[HistoryEntry, ...]


@dataclass(frozen=True)
class BriefView:
    """What both teams need before a joint call; `internal` only for our own audience."""

    deal_id: int
    key: str
    name: str
    account: str
    stage: str
    amount: str
    partner: str | None
    trigger: str
    ask: str
    trio: tuple[tuple[str, str | None, str | None], ...]  # (role, user, company shown instead)
    next_step: str | None
    next_owner: str | None
    next_due: date | None
    internal: InternalView | None = None
    withheld: frozenset[str] = frozenset()  # fields our policy does not share with the reader
    next_owner_label: str | None = None  # the owner's company, when the reader may not see them


@dataclass(frozen=True)
class CopyTarget:
    """One card message and whether only our own org can see it (then it shows internal fields)."""

    copy_id: int
    channel_id: str
    ts: str
    internal: bool
    rendered: int = 0  # the version the copy last showed


@dataclass(frozen=True)
class CardRender:
    """What every copy of one deal should show now: one view per audience."""

    deal_id: int
    version: int
    internal: CardView
    shared: CardView
    targets: tuple[CopyTarget, ...]
    # Our trio members who use App Home: their tab shows this deal too.
    home_viewers: tuple[str, ...] = ()
    # The deal's people from other companies (team, user): their own company's PTM may show
    # it in their App Home (a partnership).
    partner_viewers: tuple[tuple[str, str], ...] = ()
    # What the shared copies will show is in the disclosure ledger already.
    disclosed: bool = False
    # Shared channels whose partner company sees less under our partnership: their copy.
    governed: Mapping[str, CardView] = field(default_factory=dict)

    def view_for(self, target: CopyTarget) -> CardView:
        if target.internal:
            return self.internal
        return self.governed.get(target.channel_id, self.shared)


@dataclass(frozen=True)
class FindView:
    """Ranked partners for a search, and the deal they could be attached to."""

    query: tuple[str, ...]
    ranked: tuple[Ranked, ...]
    deal_id: int | None
    deal_key: str | None


@dataclass(frozen=True)
class InvitationView:
    """A referral from AWS as its card in PTM_AWS_CHANNEL shows it."""

    invitation_id: str
    title: str
    company: str
    sender: str
    details: Mapping[str, str]
    expires_at: datetime | None
    status: str  # pending, accepting, accepted, rejecting, rejected
    acted_by: str | None = None
    deal_key: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class CoSellView:
    deal_id: int
    key: str
    name: str
    form: CoSellForm
    missing: tuple[str, ...]
    status: AwsStatus | None
    submitted: bool
