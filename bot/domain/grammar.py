"""Read what a user typed after `/ptm` (or after mentioning the bot) into a typed intent
(`bot.domain.intents`), or say what is accepted. Pure."""

from __future__ import annotations

import re
from datetime import date

from bot.domain.crm import MAX_REFERENCE, looks_like_url
from bot.domain.inputs import (
    clean_text,
    looks_like_when,
    parse_attribution,
    parse_deal_key,
    parse_role,
    parse_stage,
    parse_when,
    read_when,
)
from bot.domain.intents import (
    MENTION_COMMANDS,
    MENTION_HELP,
    SUBCOMMANDS,
    AddPartner,
    Brief,
    CloseDeal,
    CoSellAws,
    Done,
    FindPartner,
    Help,
    Intent,
    LinkCrm,
    ListDeals,
    LogOutcome,
    NewDeal,
    NewFromCrm,
    Parsed,
    PostCard,
    ProposePartnership,
    RemovePartner,
    Reopen,
    SendDigest,
    SetAttribution,
    SetNext,
    SetStage,
    SetTrigger,
    SetTrio,
    ShowMetrics,
    Status,
    Synced,
)
from bot.domain.model import (
    MAX_CLOSE_REASON,
    MAX_NAME,
    MAX_STEP_TEXT,
    MAX_TRIGGER,
    PARTNER_KINDS,
    ROLES,
    BadInput,
    Role,
    esc,
)

# Slack sends mentions in command text as <@U123|name> (or <@U123>) when escaping is on.
MENTION_RE = re.compile(r"^<@([UW][A-Z0-9]{2,20})(?:\|[^>]*)?>$")
MAX_COMMAND_TEXT = 3000


def unescape_slack(text: str) -> str:
    """Undo Slack's escaping of &, < and > in text it sends us (we escape again on output)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def mention_id(token: str) -> str | None:
    found = MENTION_RE.fullmatch(token)
    return found.group(1) if found else None


def parse_command(text: str, *, today: date) -> Parsed:
    """Turn `/ptm` text into a Parsed intent, or raise BadInput saying what is accepted."""
    if len(text) > MAX_COMMAND_TEXT:
        raise BadInput(f"That command is {len(text)} characters; the limit is {MAX_COMMAND_TEXT}.")
    tokens = text.split()
    if not tokens:
        return Parsed(Help())
    sub, rest = tokens[0].casefold(), tokens[1:]
    if sub not in SUBCOMMANDS:
        raise BadInput(
            f"`{_quote(tokens[0])}` is not a PTM command. "
            f"Commands: {', '.join(SUBCOMMANDS)}. Try `/ptm help`."
        )
    deal_number = None
    if sub != "new" and rest and parse_deal_key(rest[0]) is not None:
        deal_number, rest = parse_deal_key(rest[0]), rest[1:]
    return Parsed(_PARSERS[sub](rest, today), deal_number)


def parse_mention(text: str, *, bot_user_id: str | None, today: date) -> Parsed:
    """Turn a message that mentions the bot (`@PTM next: send the deck by 2026-12-01`) into a
    Parsed intent; the bot's own mention may stand anywhere and a colon may follow the verb."""
    if len(text) > MAX_COMMAND_TEXT:
        raise BadInput(f"That message is {len(text)} characters; the limit is {MAX_COMMAND_TEXT}.")
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", " ", text)
    tokens = text.split()
    if tokens and tokens[0].endswith(":") and len(tokens[0]) > 1:
        tokens[0] = tokens[0][:-1]
    elif len(tokens) > 1 and tokens[1] == ":":
        del tokens[1]
    if not tokens or tokens[0].casefold() == "help":
        return Parsed(Help())
    sub = tokens[0].casefold()
    if sub not in MENTION_COMMANDS:
        # Anything else is a question or a remark: answer with where the deal stands.
        keys = (parse_deal_key(token.rstrip("?.!,")) for token in tokens)
        return Parsed(Status(), next((n for n in keys if n is not None), None))
    if sub == "synced":
        rest = tokens[1:]
        number = parse_deal_key(rest[0]) if rest else None
        if rest[1 if number is not None else 0 :]:
            raise BadInput(f"`synced` takes no words after it. {MENTION_HELP}")
        return Parsed(Synced(), number)
    return parse_command(" ".join(tokens), today=today)


def _parse_help(_rest: list[str], _today: date) -> Intent:
    return Help()


def _parse_new(rest: list[str], _today: date) -> Intent:
    if not rest:
        return NewDeal(None)
    whole = " ".join(rest)
    # A URL, bare or as Slack sends it (<url> or <url|label>, the label may hold spaces).
    if looks_like_url(whole) and (len(rest) == 1 or re.fullmatch(r"<[^<>]+>", whole)):
        return NewFromCrm(whole[:MAX_REFERENCE])
    return NewDeal(clean_text(unescape_slack(" ".join(rest)), what="deal name", limit=MAX_NAME))


TRIO_USAGE = (
    "Use `/ptm trio @seller @alliance @partner`, or one role at a time: "
    "`/ptm trio partner @user` (roles: seller, alliance, partner)."
)


def _parse_trio(rest: list[str], _today: date) -> Intent:
    ids = [mention_id(t) for t in rest]
    if len(rest) == 3 and all(ids):
        return SetTrio({role: uid for role, uid in zip(ROLES, ids, strict=True) if uid})
    if rest and len(rest) % 2 == 0:
        members: dict[Role, str] = {}
        for role_token, user_token in zip(rest[::2], rest[1::2], strict=True):
            role, uid = parse_role(role_token), mention_id(user_token)
            if role is None or uid is None or role in members:
                break
            members[role] = uid
        else:
            return SetTrio(members)
    raise BadInput(f"I could not read that trio. {TRIO_USAGE}")


PARTNER_USAGE = (
    "Use `/ptm partner add @rep [cloud|isv|si|reseller|other]` to add a partner company to "
    "the deal (named by its rep), or `/ptm partner remove @rep`."
)


def _parse_partner(rest: list[str], _today: date) -> Intent:
    verb = rest[0].casefold() if rest else ""
    user = mention_id(rest[1]) if len(rest) > 1 else None
    if verb == "add" and user and len(rest) <= 3:
        kind = rest[2].casefold() if len(rest) == 3 else "other"
        if kind not in PARTNER_KINDS:
            raise BadInput(
                f"`{_quote(rest[2])}` is not a partner role; use one of "
                f"{', '.join(PARTNER_KINDS)}. {PARTNER_USAGE}"
            )
        return AddPartner(user, kind)
    if verb == "remove" and user and len(rest) == 2:
        return RemovePartner(user)
    raise BadInput(f"I could not read that. {PARTNER_USAGE}")


def _parse_stage(rest: list[str], _today: date) -> Intent:
    return SetStage(parse_stage(" ".join(rest)))


NEXT_USAGE = (
    "Use `/ptm next &lt;text&gt; [for @user | for seller|alliance|partner] [by &lt;date&gt;]`, "
    "e.g. `/ptm next send the security questionnaire for partner by friday`."
)


def _parse_next(rest: list[str], today: date) -> Intent:
    """`<text> [for @user|for <role>] [by <date>]`; the date may also be `in N days|weeks`."""
    words = list(rest)
    due, words = _take_due(words, today)
    role, user_id = None, None
    if len(words) >= 3 and words[-2].casefold() == "for":
        owner = words[-1]
        if mention_id(owner):
            user_id, words = mention_id(owner), words[:-2]
        elif parse_role(owner):
            role, words = parse_role(owner), words[:-2]
    if not words:
        raise BadInput(f"The next step is empty. {NEXT_USAGE}")
    text = clean_text(unescape_slack(" ".join(words)), what="next step", limit=MAX_STEP_TEXT)
    return SetNext(text=text, role=role, user_id=user_id, due=due)


def _take_due(words: list[str], today: date) -> tuple[date | None, list[str]]:
    """Split a trailing due date off the words: `by <date>` or `in N days|weeks`. Words after
    the last `by` that look like a date but are not one are refused with the accepted forms."""
    if len(words) >= 4 and words[-3].casefold() == "in" and words[-2].isdigit():
        due = read_when(words[-3:], today=today)
        if due is not None:
            rest = words[:-3]
            if rest and rest[-1].casefold() == "by":  # `by in 2 weeks`
                rest = rest[:-1]
            return parse_when(words[-3:], today=today), rest
    for index in range(len(words) - 2, -1, -1):
        if words[index].casefold() != "by":
            continue
        tail = words[index + 1 :]
        if len(tail) <= 3 and read_when(tail, today=today) is not None:
            return parse_when(tail, today=today), words[:index]
        if len(tail) <= 3 and looks_like_when(tail):
            parse_when(tail, today=today)  # raises, naming the accepted forms
        break  # only the last `by` can start the date: the rest is the step's text
    return None, words


def _parse_brief(rest: list[str], _today: date) -> Intent:
    preview = bool(rest) and rest[0].casefold() == "preview"
    words = rest[1:] if preview else rest
    ask = clean_text(
        unescape_slack(" ".join(words)), what="ask", limit=MAX_STEP_TEXT, required=False
    )
    return Brief(ask, preview)


def _parse_attribution(rest: list[str], _today: date) -> Intent:
    if len(rest) != 1:
        raise BadInput("Use `/ptm attribution sourced`, `co-sell` or `influenced`.")
    return SetAttribution(parse_attribution(rest[0]))


def _parse_lost(rest: list[str], _today: date) -> Intent:
    reason = clean_text(
        unescape_slack(" ".join(rest)), what="reason", limit=MAX_CLOSE_REASON, required=False
    )
    return CloseDeal(won=False, reason=reason)


def _parse_metrics(rest: list[str], _today: date) -> Intent:
    if not rest:
        return ShowMetrics()
    if len(rest) == 1 and rest[0].casefold() == "chart":
        return ShowMetrics(chart=True)
    raise BadInput(
        f"`{_quote(' '.join(rest))}` was not expected here. Use `/ptm metrics` for the figures "
        "or `/ptm metrics chart` for the trend picture."
    )


def _parse_bare(intent: Intent):  # type: ignore[no-untyped-def]
    def parse(rest: list[str], _today: date) -> Intent:
        if rest:
            raise BadInput(f"`{_quote(' '.join(rest))}` was not expected here. Try `/ptm help`.")
        return intent

    return parse


def _quote(text: str) -> str:
    """Make user text safe inside our inline code quotes (it is escaped again on output)."""
    return esc(text.replace("`", "'"))


_PARSERS = {
    "help": _parse_help,
    "new": _parse_new,
    "trio": _parse_trio,
    "stage": _parse_stage,
    "next": _parse_next,
    "done": _parse_bare(Done()),
    "card": _parse_bare(PostCard()),
    "list": _parse_bare(ListDeals()),
    "digest": _parse_bare(SendDigest()),
    "trigger": lambda rest, _today: SetTrigger(
        clean_text(unescape_slack(" ".join(rest)), what="trigger reason", limit=MAX_TRIGGER)
    ),
    "attribution": _parse_attribution,
    "brief": _parse_brief,
    "log": lambda rest, _today: LogOutcome(
        clean_text(unescape_slack(" ".join(rest)), what="outcome", limit=MAX_STEP_TEXT)
    ),
    "won": _parse_bare(CloseDeal(won=True)),
    "lost": _parse_lost,
    "metrics": _parse_metrics,
    "reopen": _parse_bare(Reopen()),
    "partnership": _parse_bare(ProposePartnership()),
    "partner": _parse_partner,
    "link": lambda rest, _today: LinkCrm(" ".join(rest)[:MAX_REFERENCE]),
    "aws": _parse_bare(CoSellAws()),
    "find": lambda rest, _today: FindPartner(unescape_slack(" ".join(rest))[:500]),
}
