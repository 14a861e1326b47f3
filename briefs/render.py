"""One sandboxed Jinja2 environment rendering view models to Slack mrkdwn; every value escaped."""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Any

from jinja2 import PackageLoader, StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from bot.domain.model import esc
from bot.views.digest import DigestView
from bot.views.models import BriefView


class Mrkdwn(str):
    """Text that is already mrkdwn (made by our filters), so it is not escaped again."""


def _finalize(value: Any) -> Any:
    if isinstance(value, Mrkdwn):
        return value
    text = str(value)
    return esc(text, limit=len(text) + 1)


def _mention(user_id: str | None) -> Mrkdwn:
    return Mrkdwn(f"<@{user_id}>" if user_id else "_nobody_")


def _day(value: date | None) -> str:
    return value.isoformat() if value else "no date"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


@cache
def environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        loader=PackageLoader("briefs", "templates"),
        undefined=StrictUndefined,
        autoescape=False,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters.update(mention=_mention, day=_day, plural=_plural)
    return env


def render_brief(view: BriefView) -> str:
    """The co-sell brief as mrkdwn; every value escaped, our own markup kept."""
    return environment().get_template("co_sell_brief.md.j2").render(b=view).strip()


def render_digest(view: DigestView) -> str:
    """The digest as mrkdwn text; the blocks builder splits it into sections."""
    return environment().get_template("digest.md.j2").render(d=view).strip()
