"""The rules of a tenant's settings: who may be an admin, the digest hour, webhook targets."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from blocks.home import build_home
from bot.demo.blockkit import validate_view
from bot.domain import admin, metrics, periods
from bot.domain.model import BadInput, NotAllowed
from bot.views.admin import AdminLine, AdminView, ConnectorLine
from bot.views.digest import DigestView, HomeView, StepLine

SECRET = "0123456789abcdef"


@pytest.mark.parametrize(
    "url, why",
    [
        ("http://crm.example.com/hook", "https address"),
        ("https://127.0.0.1:8443/hook", "private or local address"),
        ("https://10.1.2.3/hook", "private or local address"),
        ("https://169.254.169.254/latest", "private or local address"),
        ("https://[::1]/hook", "private or local address"),
        ("https://localhost/hook", "private or local address"),
        ("https://user:pw@crm.example.com/hook", "no user name or password"),
        ("https://crm.example.com:99999/", "does not read as a URL"),
        ("https://crm.example.com/" + "x" * 2000, "longer than 2000"),
        ("crm.example.com", "https address"),
    ],
)
def test_webhook_targets_are_public_https_addresses(url: str, why: str) -> None:
    with pytest.raises(BadInput, match=why):
        admin.check_webhook(url, SECRET, has_secret=False, allow_private=False)


def test_a_local_stand_in_is_allowed_only_when_configured_so() -> None:
    url = "http://127.0.0.1:8080/ours"
    assert admin.check_webhook(url, SECRET, has_secret=False, allow_private=True) == (url, SECRET)
    assert admin.check_webhook(
        " https://crm.example.com/ptm ", None, has_secret=True, allow_private=False
    ) == ("https://crm.example.com/ptm", None)
    with pytest.raises(BadInput, match="Give the secret"):
        admin.check_webhook("https://crm.example.com", "  ", has_secret=False, allow_private=False)
    with pytest.raises(BadInput, match="16 to 500 characters"):
        admin.check_webhook(
            "https://crm.example.com", "short", has_secret=True, allow_private=False
        )


def test_admins_are_people_of_this_workspace_and_one_always_remains() -> None:
    admin.check_new_admin("UNEW", internal=True, is_bot=False, admins={"UA"})
    for user, internal, bot, why in (
        ("UX", False, False, "from another company"),
        ("UB", True, True, "is an app"),
        ("UA", True, False, "already"),
        ("CCHANNEL", True, False, "Pick a person"),
    ):
        with pytest.raises(BadInput, match=why):
            admin.check_new_admin(user, internal=internal, is_bot=bot, admins={"UA"})
    admin.check_removal("UA", stored={"UA", "UB"}, configured=set())
    admin.check_removal("UA", stored={"UA"}, configured={"UENV"})
    with pytest.raises(BadInput, match="last PTM admin"):
        admin.check_removal("UA", stored={"UA"}, configured=set())
    with pytest.raises(BadInput, match="through PTM_ADMINS"):
        admin.check_removal("UENV", stored={"UA"}, configured={"UENV"})
    with pytest.raises(NotAllowed):
        admin.require_admin("UA", internal=False, admins={"UA"})
    with pytest.raises(BadInput, match="0 to 23"):
        admin.parse_digest_hour("24")
    assert admin.parse_digest_hour(" 7 ") == 7


def test_an_admins_home_keeps_the_settings_whole_within_100_blocks() -> None:
    lines = tuple(
        StepLine(f"PTM-{i}", "Deal <b>", "call", "USELLER", date(2026, 12, 1), False)
        for i in range(60)
    )
    stale = tuple((f"PTM-{i}", "x") for i in range(60))
    digest = DigestView("UA", date(2026, 12, 1), lines, lines, (), stale, None)
    settings = AdminView(
        admins=tuple(
            AdminLine(f"U{i}", "UA", datetime(2026, 1, 1, tzinfo=UTC), True) for i in range(30)
        ),
        digest_hour=9,
        digest_hour_is_default=False,
        connectors=(
            ConnectorLine("ours", "webhook", "https://crm.example.com/<x>", 2, False, True),
        ),
        recent=(),
    )
    period = periods.default_period(date(2026, 12, 1))
    quarter = periods.last_complete_quarter(period.until)
    report = metrics.measure([], {}, set(), period=period, quarter=quarter, scope="all deals")
    view = build_home(HomeView(digest, report), settings, notice="done")
    blocks = view["blocks"]
    assert len(blocks) == 100
    assert blocks[-1]["type"] == "section" and "https://crm.example.com/&lt;x&gt;" in str(
        blocks[-1]
    )
    assert "…and 10 more." in str(blocks) and "done" in str(blocks[1])
    assert validate_view(view) == []
