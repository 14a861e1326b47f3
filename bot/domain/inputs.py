"""Parse and bound what people type: stages, roles, dates, amounts, names. Pure."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from bot.domain.model import (
    CURRENCY_RE,
    DATE_FORMAT_HINT,
    DEAL_KEY_RE,
    MAX_AMOUNT,
    STAGES,
    Attribution,
    BadInput,
    ForecastCategory,
    Role,
    Stage,
    esc,
)


def stage_list() -> str:
    return ", ".join(s.value for s in STAGES)


def parse_stage(text: str) -> Stage:
    """Match a stage case-insensitively by full name or unique prefix."""
    wanted = " ".join(text.split()).casefold()
    if not wanted:
        raise BadInput(f"Which stage? Stages are: {stage_list()}.")
    exact = [s for s in STAGES if s.value.casefold() == wanted]
    if exact:
        return exact[0]
    matches = [s for s in STAGES if s.value.casefold().startswith(wanted)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        names = " or ".join(s.value for s in matches)
        raise BadInput(f"“{esc(text)}” could be {names}. Stages are: {stage_list()}.")
    raise BadInput(f"“{esc(text)}” is not a stage. Stages are: {stage_list()}.")


def parse_role(text: str) -> Role | None:
    """Return the role named by `text` (case-insensitive), or None if it names no role."""
    try:
        return Role(text.strip().casefold())
    except ValueError:
        return None


def parse_date(text: str, *, what: str = "date") -> date:
    """Parse YYYY-MM-DD, rejecting impossible dates with the expected format."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
        raise BadInput(f"“{esc(text)}” is not a {what}. Use {DATE_FORMAT_HINT}.")
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise BadInput(f"{esc(text)} is not a real calendar day. Use {DATE_FORMAT_HINT}.") from None


def parse_due(text: str, *, today: date) -> date:
    """A due date: a real day, not in the past."""
    due = parse_date(text, what="due date")
    if due < today:
        raise BadInput(f"The due date {due} is in the past. Use today ({today}) or later.")
    return due


def parse_amount(text: str) -> Decimal | None:
    """Parse an amount like `120000`, `120,000.50`; empty means unset."""
    cleaned = text.strip().replace(",", "").replace("_", "")
    if not cleaned:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise BadInput(
            f"“{esc(text)}” is not an amount. Use digits, e.g. 120000 or 120000.50."
        ) from None
    if not value.is_finite() or value < 0 or value >= MAX_AMOUNT:
        raise BadInput("The amount must be a positive number below 1,000,000,000,000.")
    return value.quantize(Decimal("0.01"))


def parse_currency(text: str) -> str:
    code = text.strip().upper() or "USD"
    if not CURRENCY_RE.fullmatch(code):
        raise BadInput(f"“{esc(text)}” is not a currency. Use a 3-letter code such as USD or EUR.")
    return code


def parse_attribution(text: str) -> Attribution | None:
    cleaned = text.strip().casefold()
    if cleaned in ("", "none", "unset"):
        return None
    try:
        return Attribution(cleaned)
    except ValueError:
        raise BadInput(
            f"“{esc(text)}” is not an attribution. Use sourced, co-sell or influenced."
        ) from None


def parse_forecast(text: str) -> ForecastCategory | None:
    cleaned = text.strip().casefold()
    if cleaned in ("", "none", "unset"):
        return None
    try:
        return ForecastCategory(cleaned)
    except ValueError:
        names = ", ".join(f.value for f in ForecastCategory)
        raise BadInput(f"“{esc(text)}” is not a forecast category. Use {names}.") from None


# Characters no database of ours stores (PostgreSQL refuses NUL in text; a lone surrogate is
# not UTF-8) and control characters that no one types on purpose. Tab and line breaks are fine.
_UNSTORABLE_RE = re.compile("[\x00-\x08\x0e-\x1f\x7f\ud800-\udfff]")


def unstorable(text: str) -> str | None:
    """A description of the first character of `text` that cannot be stored, or None."""
    found = _UNSTORABLE_RE.search(text)
    if found is None:
        return None
    code = ord(found.group())
    kind = "a NUL character" if code == 0 else f"the control character U+{code:04X}"
    return f"{kind} (at position {found.start() + 1})"


def require_storable(text: str, *, what: str) -> None:
    problem = unstorable(text)
    if problem is not None:
        raise BadInput(
            f"The {what} contains {problem}, which cannot be stored. Remove it and try again."
        )


def clean_notes(text: str, *, limit: int) -> str:
    """Free notes: keep line breaks, trim each line, bound the length."""
    require_storable(text, what="notes")
    cleaned = "\n".join(line.rstrip() for line in text.strip().splitlines())
    if len(cleaned) > limit:
        raise BadInput(f"The notes are {len(cleaned)} characters; the limit is {limit}.")
    return cleaned


def clean_text(text: str, *, what: str, limit: int, required: bool = True) -> str:
    """Collapse whitespace and bound the length of a user-typed value."""
    require_storable(text, what=what)
    cleaned = " ".join(text.split())
    if required and not cleaned:
        raise BadInput(f"The {what} is empty. Type a few words.")
    if len(cleaned) > limit:
        raise BadInput(f"The {what} is {len(cleaned)} characters; the limit is {limit}.")
    return cleaned


def parse_deal_key(text: str) -> int | None:
    """Return the deal number of `PTM-<n>`, or None if `text` is not a deal key."""
    found = DEAL_KEY_RE.fullmatch(text.strip())
    return int(found.group(1)) if found else None


def deal_key(number: int) -> str:
    return f"PTM-{number}"


# --- Due dates as people type them ------------------------------------------------------

DUE_FORMS = (
    "`YYYY-MM-DD`, `today`, `tomorrow`, a weekday (`friday` is the next one), "
    "`in 3 days`, `in 2 weeks`, or a month and day (`Dec 1`)"
)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
# Words that say "a date was meant here": after `by`, they make a refusal instead of text.
_DATE_WORDS = frozenset(
    {"today", "tomorrow", "in", "next", "this", "end", "eod", "eow", "tonight"}
    | {w[:3] for w in WEEKDAYS}
    | set(WEEKDAYS)
    | {m[:3] for m in MONTHS}
    | set(MONTHS)
    | {"sept", "tues", "thur", "thurs"}
)


def _weekday(word: str) -> int | None:
    word = word.casefold().rstrip(".,")
    for index, name in enumerate(WEEKDAYS):
        if len(word) >= 3 and name.startswith(word):
            return index
    return None


def _month(word: str) -> int | None:
    word = word.casefold().rstrip(".,")
    if word == "sept":
        return 9
    for index, name in enumerate(MONTHS, start=1):
        if len(word) >= 3 and name.startswith(word):
            return index
    return None


def _month_day(month: int, day: int, today: date) -> date | None:
    """This year's day, or next year's once this year's has passed; None if no such day."""
    for year in (today.year, today.year + 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            return None
        if candidate >= today:
            return candidate
    return None


def read_when(words: list[str], *, today: date) -> date | None:
    """The day that `words` name (see DUE_FORMS), or None when they name none."""
    lowered = [w.casefold().rstrip(".,") for w in words]
    if len(lowered) == 1:
        word = lowered[0]
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", word):
            try:
                return date.fromisoformat(word)
            except ValueError:
                return None
        if word == "today":
            return today
        if word == "tomorrow":
            return date.fromordinal(today.toordinal() + 1)
        weekday = _weekday(word)
        if weekday is not None:
            ahead = (weekday - today.weekday() - 1) % 7 + 1  # the next one, never today
            return date.fromordinal(today.toordinal() + ahead)
        return None
    if len(lowered) == 3 and lowered[0] == "in" and lowered[1].isdigit():
        count, unit = int(lowered[1]), lowered[2]
        days = {"day": 1, "days": 1, "week": 7, "weeks": 7}.get(unit)
        if days is None or not 1 <= count * days <= 3660:
            return None
        return date.fromordinal(today.toordinal() + count * days)
    if len(lowered) == 2:
        first, second = lowered
        if _month(first) is not None and second.isdigit() and len(second) <= 2:
            return _month_day(_month(first) or 0, int(second), today)
        if _month(second) is not None and first.isdigit() and len(first) <= 2:
            return _month_day(_month(second) or 0, int(first), today)
    return None


def looks_like_when(words: list[str]) -> bool:
    """Whether words after `by` were meant as a date (then an unreadable one is refused rather
    than kept as part of the text: `by friday` is a date, `by legal` is not)."""
    if not words:
        return False
    first = words[0].casefold().rstrip(".,")
    typo_of_a_day = len(first) >= 5 and first[:3] in ("tod", "tom")  # `tomorow`, `tody`
    return first[:1].isdigit() or first in _DATE_WORDS or typo_of_a_day


def parse_when(words: list[str], *, today: date) -> date:
    """A due date in any of DUE_FORMS, not in the past; a clear refusal otherwise."""
    typed = " ".join(words)
    due = read_when(words, today=today)
    if due is None:
        raise BadInput(f"I cannot read “{esc(typed)}” as a date. Use {DUE_FORMS}.")
    if due < today:
        raise BadInput(f"The due date {due} is in the past. Use today ({today}) or later.")
    return due
