"""Co-selling with AWS through Partner Central: what a submission needs, in words a seller
understands; the CreateOpportunity request built from a deal; the service model's own rules
(required members, enums, patterns, lengths) checked before anything is sent; and AWS's
answers (task, review status, stage) in words. Stdlib only: the rules are handed in as data,
read from botocore's service model by the adapter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Protocol

from bot.domain.model import Deal, Stage

# The form a seller fills, field by field: the key, its label, and where it goes in
# CreateOpportunity (a path of members; [] for "each item of the list").
FIELDS: dict[str, tuple[str, str]] = {
    "company": ("Customer company", "Customer.Account.CompanyName"),
    "country": ("Customer's country", "Customer.Account.Address.CountryCode"),
    "website": ("Customer website", "Customer.Account.WebsiteUrl"),
    "duns": ("DUNS number (optional)", "Customer.Account.Duns"),
    "problem": ("The customer's business problem", "Project.CustomerBusinessProblem"),
    "spend": ("Expected monthly AWS spend", "Project.ExpectedCustomerSpend[].Amount"),
    "currency": ("Spend currency", "Project.ExpectedCustomerSpend[].CurrencyCode"),
    "close_date": ("Target close date", "LifeCycle.TargetCloseDate"),
    "use_case": ("Use case", "Project.CustomerUseCase"),
    "delivery": ("Delivery model", "Project.DeliveryModels[]"),
    "need": ("What you need from AWS", "PrimaryNeedsFromAws[]"),
}
# What AWS needs before it takes a co-sell submission (DUNS is optional).
REQUIRED = ("company", "country", "website", "problem", "spend", "currency", "close_date",
            "use_case", "delivery", "need")  # fmt: skip
# The service model gives CustomerUseCase no rule and the API reference lists no values: PTM
# takes the seller's words (Partner Central's own form calls it the solution focus or type of
# workload, e.g. "Migration/Database Migration"), bounded.
MAX_USE_CASE = 255
AWS_STAGES: dict[Stage, str] = {
    Stage.QUALIFY: "Prospect",
    Stage.DISCOVER: "Qualified",
    Stage.VALIDATE: "Technical Validation",
    Stage.PROPOSE: "Business Validation",
    Stage.NEGOTIATE: "Committed",
    Stage.CLOSED_WON: "Launched",
    Stage.CLOSED_LOST: "Closed Lost",
}
ORIGIN = "Partner Referral"
FORM_PREFIX = "aws_"  # the form's block ids: aws_company, aws_country, …
CATALOGS = ("AWS", "Sandbox")


class AwsProblem(Exception):
    """AWS's refusal or failure in words; whether trying again later may help, and whether an
    admin must fix the credentials."""

    def __init__(
        self, message: str, *, code: str = "", retry: bool = False, attention: bool = False
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retry = retry
        self.attention = attention


@dataclass(frozen=True)
class TaskState:
    """An engagement task (the submission to AWS, run by AWS asynchronously)."""

    task_id: str
    status: str  # IN_PROGRESS, COMPLETE, FAILED
    reason: str | None = None
    message: str | None = None
    opportunity_id: str | None = None


@dataclass(frozen=True)
class OpportunityState:
    """What ListOpportunities says of one opportunity."""

    review: str
    stage: str
    modified_at: datetime | None = None
    reason: str = ""


@dataclass(frozen=True)
class InvitationSummary:
    """A referral from AWS as ListEngagementInvitations gives it."""

    invitation_id: str
    title: str
    sender: str
    expires_at: datetime | None = None


class PartnerCentralPort(Protocol):
    """What the use cases need of AWS Partner Central (bot.adapters.aws implements it)."""

    catalog: str

    def rules(self, operation: str) -> dict[str, Rule]: ...

    async def create_opportunity(self, params: Mapping[str, object]) -> str: ...

    async def associate_solution(self, opportunity_id: str) -> None: ...

    async def start_engagement(self, opportunity_id: str, client_token: str) -> TaskState: ...

    async def opportunities(self, ids: Sequence[str]) -> dict[str, OpportunityState]: ...

    async def tasks(self, opportunity_ids: Sequence[str]) -> dict[str, TaskState]: ...

    async def aws_seller(self, opportunity_id: str) -> str: ...

    async def current_opportunity(self, opportunity_id: str) -> dict[str, object]: ...

    async def update_opportunity(self, params: Mapping[str, object]) -> None: ...

    async def pending_invitations(self) -> list[InvitationSummary]: ...

    async def invitation_details(self, invitation_id: str) -> dict[str, str]: ...

    async def accept_invitation(self, invitation_id: str, client_token: str) -> TaskState: ...

    async def reject_invitation(self, invitation_id: str, reason: str) -> None: ...


@dataclass(frozen=True)
class Rule:
    """What the service model says of one member."""

    required: bool = False
    enum: tuple[str, ...] = ()
    pattern: str | None = None
    min: int | None = None  # lengths of strings, sizes of lists
    max: int | None = None


@dataclass(frozen=True)
class CoSellForm:
    """What a seller gave for AWS; empty means not given."""

    company: str = ""
    country: str = ""
    website: str = ""
    duns: str = ""
    problem: str = ""
    spend: str = ""
    currency: str = ""
    close_date: str = ""
    use_case: str = ""
    delivery: tuple[str, ...] = ()
    need: tuple[str, ...] = ()

    def value(self, key: str) -> object:
        return getattr(self, key)

    def as_json(self) -> dict[str, object]:
        return {key: (list(v) if isinstance(v, tuple) else v) for key, v in vars(self).items()}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> CoSellForm:
        known = {k: data[k] for k in FIELDS if k in data}
        for key in ("delivery", "need"):
            if key in known:
                known[key] = tuple(str(v) for v in known[key] or ())  # type: ignore[union-attr]
        return cls(**{k: v if isinstance(v, tuple) else str(v or "") for k, v in known.items()})


def with_deal_defaults(deal: Deal, form: CoSellForm) -> CoSellForm:
    """What the deal already knows fills what the seller has not given."""
    return CoSellForm(
        **{
            **vars(form),
            "company": form.company or deal.account,
            "currency": form.currency or deal.currency,
            "close_date": form.close_date
            or (deal.close_date.isoformat() if deal.close_date else ""),
            "spend": form.spend,
        }
    )


def missing(form: CoSellForm) -> list[str]:
    """The labels of what AWS requires and the form lacks, in form order."""
    return [FIELDS[key][0] for key in REQUIRED if not form.value(key)]


def opportunity_request(
    deal: Deal, form: CoSellForm, *, catalog: str, client_token: str
) -> dict[str, object]:
    """CreateOpportunity's parameters. Only what the co-sell needs leaves PTM: never the
    internal notes, the forecast category or the trigger reason."""
    account: dict[str, object] = {
        "CompanyName": form.company,
        "WebsiteUrl": form.website,
        "Address": {"CountryCode": form.country},
    }
    if form.duns:
        account["Duns"] = form.duns
    life: dict[str, object] = {"Stage": AWS_STAGES[deal.stage], "TargetCloseDate": form.close_date}
    if deal.next_step is not None and deal.next_step.text:
        life["NextSteps"] = deal.next_step.text[:255]
    return {
        "Catalog": catalog,
        "ClientToken": client_token,
        "Origin": ORIGIN,
        "OpportunityType": "Net New Business",
        "PartnerOpportunityIdentifier": deal.key,
        "PrimaryNeedsFromAws": list(form.need),
        "Customer": {"Account": account},
        "Project": {
            "Title": deal.name[:255],
            "CustomerBusinessProblem": form.problem,
            "CustomerUseCase": form.use_case,
            "DeliveryModels": list(form.delivery),
            "ExpectedCustomerSpend": [
                {
                    "Amount": form.spend,
                    "CurrencyCode": form.currency,
                    "Frequency": "Monthly",
                    "TargetCompany": "AWS",
                }
            ],
        },
        "LifeCycle": life,
    }


def normalise_spend(raw: str) -> str:
    """`12,500` or `12500.5` as AWS's amount form (digits, at most two decimals)."""
    text = raw.replace(",", "").replace(" ", "").strip()
    if not text:
        return ""
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return raw.strip()
    if amount < 0 or amount != amount.quantize(Decimal("0.01")):
        return raw.strip()
    return f"{amount.normalize():f}" if amount == amount.to_integral() else f"{amount:.2f}"


# --- the service model's rules ---------------------------------------------------------------


@dataclass
class Problems:
    """What breaks the rules, by request path, in words."""

    by_path: dict[str, str] = field(default_factory=dict)

    def by_field(self) -> dict[str, str]:
        """The same, keyed by the form field it comes from (others under "")."""
        paths = {path: key for key, (_, path) in FIELDS.items()}
        found: dict[str, str] = {}
        for path, words in self.by_path.items():
            key = paths.get(_general(path), "")
            label = FIELDS[key][0] if key else path
            found.setdefault(key, f"{label}: {words}")
        return found


def check(params: Mapping[str, object], rules: Mapping[str, Rule]) -> Problems:
    """Every member of `params` (and every required one that is missing) against the service
    model's rules, as botocore's own validation does not: enums, patterns, maximum lengths."""
    problems = Problems()
    _check(params, "", rules, problems)
    return problems


def _check(value: object, path: str, rules: Mapping[str, Rule], problems: Problems) -> None:
    key = _general(path)
    rule = rules.get(key)
    if isinstance(value, Mapping):
        prefix = f"{path}." if path else ""
        for name, inner in value.items():
            _check(inner, f"{prefix}{name}", rules, problems)
        for member, r in rules.items():
            if r.required and _parent(member) == key:
                name = member[len(key) + 1 :] if key else member
                if value.get(name) in ("", None, [], {}):
                    problems.by_path[f"{prefix}{name}"] = "required"
        return
    if isinstance(value, list | tuple):
        if rule is not None and rule.min is not None and len(value) < rule.min:
            problems.by_path[path] = f"at least {rule.min}"
        if rule is not None and rule.max is not None and len(value) > rule.max:
            problems.by_path[path] = f"at most {rule.max}"
        for i, item in enumerate(value):
            _check(item, f"{path}[{i}]", rules, problems)
        return
    if rule is None or not isinstance(value, str):
        return
    if rule.enum and value not in rule.enum:
        shown = ", ".join(rule.enum[:8]) + ("…" if len(rule.enum) > 8 else "")
        problems.by_path[path] = f"one of {shown}"
    elif rule.max is not None and len(value) > rule.max:
        problems.by_path[path] = f"at most {rule.max} characters"
    elif rule.min is not None and len(value) < rule.min:
        problems.by_path[path] = f"at least {rule.min} characters"
    elif rule.pattern and not _matches(rule.pattern, value):
        problems.by_path[path] = pattern_words(rule.pattern)


def _general(path: str) -> str:
    """A request path with list positions as the rules name them: `A[2].B` -> `A[].B`."""
    return re.sub(r"\[\d+\]", "[]", path)


def _parent(member: str) -> str:
    return member.rsplit(".", 1)[0] if "." in member else ""


def _matches(pattern: str, value: str) -> bool:
    try:
        return re.fullmatch(pattern, value) is not None
    except re.error:  # \p{L} and friends: Python's re cannot read them; AWS will check
        return True


_LENGTH = re.compile(r"\(\?s\)\.\{(\d+),(\d+)\}")


def pattern_words(pattern: str) -> str:
    """A service-model pattern as a person reads it."""
    length = _LENGTH.fullmatch(pattern)
    if length:
        low, high = int(length.group(1)), int(length.group(2))
        return f"{low:,} to {high:,} characters" if low else f"at most {high:,} characters"
    if "[1-9][0-9]{3}-" in pattern:
        return "a date like 2026-12-31"
    if pattern == "[0-9]{9}":
        return "9 digits"
    if "(\\.[0-9]{0,2})" in pattern:
        return "an amount in digits, with at most two decimals (e.g. 12500 or 12500.50)"
    if pattern.startswith("\\+"):
        return "a phone number like +14155550100"
    return "not in the form AWS accepts"


# --- AWS's answers in words ------------------------------------------------------------------

TASK_WORDS = {"IN_PROGRESS": "being submitted", "COMPLETE": "submitted", "FAILED": "failed"}
REASON_WORDS = {
    "OpportunityAccessDenied": "AWS would not let PTM's credentials touch the opportunity",
    "OpportunitySubmissionFailed": "AWS did not take the submission",
    "OpportunityValidationFailed": "the opportunity misses something AWS requires",
    "EngagementAccessDenied": "AWS would not let PTM's credentials start the engagement",
    "ServiceQuotaExceeded": "the account's AWS quota is used up",
    "RequestThrottled": "AWS asked PTM to slow down",
    "InternalError": "AWS had an internal error",
    "ResourceSnapshotJobFailed": "AWS could not take its snapshot of the opportunity",
}
REVIEWING = ("Submitted", "In review", "In Review")


def task_words(status: str, reason: str | None, message: str | None = None) -> str:
    words = TASK_WORDS.get(status, status.lower() or "queued")
    if status == "FAILED":
        why = REASON_WORDS.get(reason or "", f"AWS refused it ({reason})" if reason else "")
        detail = f" — {message[:200]}" if message else ""
        return f"{words}: {why}{detail}" if why else f"{words}{detail}"
    return words


@dataclass(frozen=True)
class AwsStatus:
    """A submission as the card shows it."""

    step: str
    task: str
    review: str
    stage: str
    seller: str
    problem: str
    opportunity_id: str | None

    def line(self) -> str:
        if self.problem:
            return f"AWS co-sell: {self.problem}"
        parts = [f"AWS co-sell: {self.task}"]
        if self.review:
            parts.append(f"review: {self.review}")
        if self.stage:
            parts.append(f"AWS stage: {self.stage}")
        if self.seller:
            parts.append(f"AWS seller: {self.seller}")
        if self.opportunity_id:
            parts.append(f"`{self.opportunity_id}`")
        return " · ".join(parts)


# --- keeping AWS current ---------------------------------------------------------------------

# Deal changes AWS hears of once the co-sell is submitted.
SYNCED_FIELDS = frozenset({"stage", "status", "close_date", "close_reason"})
LOST_REASONS = (
    (("google", "gcp"), "Lost to Competitor - Google"),
    (("microsoft", "azure"), "Lost to Competitor - Microsoft"),
    (("vmware",), "Lost to Competitor - VMWare"),
    (("competitor", "went with", "chose"), "Lost to Competitor - Other"),
    (("price", "pricing", "budget", "cost", "expensive"), "Price"),
    (("security", "compliance"), "Security / Compliance"),
    (("delay", "cancel", "postpone", "on hold"), "Delay / Cancellation of Project"),
    (("on-prem", "on prem", "premises"), "On Premises Deployment"),
    (("legal", "tax", "regulat"), "Legal / Tax / Regulatory"),
    (("technical", "feature", "limitation"), "Technical Limitations"),
)


def closed_lost_reason(text: str) -> str:
    """AWS's closed-lost reason for the words a seller gave (`/ptm lost <reason>`)."""
    lowered = text.casefold()
    return next((aws for words, aws in LOST_REASONS if any(w in lowered for w in words)), "Other")


def synced_changes(audit: Mapping[str, object]) -> list[str]:
    return sorted(name for name in audit if name in SYNCED_FIELDS)


def updated_opportunity(
    current: Mapping[str, object], deal: Deal, form: CoSellForm
) -> dict[str, object]:
    """UpdateOpportunity replaces the whole record: what AWS holds now (`current`, trimmed to
    what UpdateOpportunity takes), with the deal's stage and close date and the form's spend."""
    params: dict[str, object] = dict(current)
    life = dict(params.get("LifeCycle") or {})  # type: ignore[call-overload]
    life["Stage"] = AWS_STAGES[deal.stage]
    if deal.close_date is not None:
        life["TargetCloseDate"] = deal.close_date.isoformat()
    if deal.stage is Stage.CLOSED_LOST:
        life["ClosedLostReason"] = closed_lost_reason(deal.close_reason)
    else:
        life.pop("ClosedLostReason", None)
    params["LifeCycle"] = life
    if form.spend:
        project = dict(params.get("Project") or {})  # type: ignore[call-overload]
        spends = [dict(s) for s in project.get("ExpectedCustomerSpend") or []]
        first = spends[0] if spends else {"Frequency": "Monthly", "TargetCompany": "AWS"}
        first.update(Amount=form.spend, CurrencyCode=form.currency or first.get("CurrencyCode"))
        project["ExpectedCustomerSpend"] = [first, *spends[1:]]
        params["Project"] = project
    return params
