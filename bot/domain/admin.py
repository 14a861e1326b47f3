"""Who runs PTM for a company, and the rules for the settings they change. Stdlib only.

A tenant's admins are the ones stored for it (the installer first, then whoever an admin adds
in App Home) plus, in single-workspace mode, PTM_ADMINS. Admins may change any of its deals,
and its settings: admins, the digest hour, the CRM connectors.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.domain.crm import CrmKind
from bot.domain.model import BadInput, NotAllowed
from bot.domain.outbox import Side

MAX_URL = 2000
MAX_SECRET = 500
MIN_SECRET = 16  # an HMAC key shorter than this is guessable


# How a side of "log to both" reaches a CRM: webhook, salesforce, hubspot.
ConnectorKind = CrmKind
HUBSPOT_API = "https://api.hubapi.com"
# Kinds whose URL may be left blank (a default API address): an empty URL does not disconnect.
URL_OPTIONAL = frozenset({CrmKind.HUBSPOT})
URL_NAMES = {
    CrmKind.WEBHOOK: "webhook URL",
    CrmKind.SALESFORCE: "Salesforce instance URL",
    CrmKind.HUBSPOT: "HubSpot API URL",
}
URL_EXAMPLES = {
    CrmKind.WEBHOOK: "https://crm.example.com/ptm",
    CrmKind.SALESFORCE: "https://acme.my.salesforce.com",
    CrmKind.HUBSPOT: HUBSPOT_API,
}


SIDE_NAMES = {Side.OURS: "our CRM", Side.PARTNER: "the partner's CRM"}


def require_admin(user_id: str, *, internal: bool, admins: Collection[str]) -> None:
    if not internal or user_id not in admins:
        raise NotAllowed(
            "Only PTM admins of this workspace can change its settings. "
            "Ask one of them (they are listed in the settings of PTM's App Home)."
        )


def check_new_admin(user_id: str, *, internal: bool, is_bot: bool, admins: Collection[str]) -> None:
    """A new admin is a person of this workspace who is not one already."""
    if not user_id.startswith(("U", "W")):
        raise BadInput("Pick a person from this workspace to make them a PTM admin.")
    if is_bot:
        raise BadInput(f"<@{user_id}> is an app, not a person: pick a person.")
    if not internal:
        raise BadInput(
            f"<@{user_id}> is from another company. PTM admins are people of this workspace; "
            "a partner's admins are set by their own company."
        )
    if user_id in admins:
        raise BadInput(f"<@{user_id}> is a PTM admin already.")


def check_removal(user_id: str, *, stored: Collection[str], configured: Collection[str]) -> None:
    """Anyone stored may be removed, except the last admin: a workspace must keep someone who
    can manage PTM. Admins from PTM_ADMINS are changed there, not in Slack."""
    if user_id not in stored:
        if user_id in configured:
            raise BadInput(
                f"<@{user_id}> is an admin through PTM_ADMINS; remove them from that variable."
            )
        raise BadInput(f"<@{user_id}> is not a PTM admin (any more).")
    if not configured and not (set(stored) - {user_id}):
        raise BadInput(
            f"<@{user_id}> is the last PTM admin here. Add another admin first, so that "
            "someone can still manage PTM in this workspace."
        )


def parse_digest_hour(raw: str) -> int:
    text = raw.strip()
    if not text.isdigit() or not 0 <= int(text) <= 23:
        raise BadInput(f"The digest hour is a whole hour from 0 to 23, not `{raw[:20]}`.")
    return int(text)


def hour_label(hour: int) -> str:
    return f"{hour:02d}:00"


@dataclass(frozen=True)
class ConnectorInput:
    """One side's connector as an admin typed it, checked (None secrets: keep the stored)."""

    kind: CrmKind
    url: str
    secret: str | None
    client_id: str
    webhook_secret: str | None


def check_connector(
    kind: CrmKind,
    url: str,
    secret: str | None,
    *,
    client_id: str = "",
    webhook_secret: str | None = None,
    has_secret: bool,
    allow_private: bool,
) -> ConnectorInput:
    """A connector of any kind: its URL (HubSpot's defaults to the public API), the secret (the
    webhook's HMAC key, Salesforce's client secret, HubSpot's private-app token), Salesforce's
    client id, and the optional secret the CRM signs notifications to PTM with."""
    if kind is CrmKind.HUBSPOT and not url.strip():
        url = HUBSPOT_API
    url, secret = check_webhook(
        url, secret, has_secret=has_secret, allow_private=allow_private, what=URL_NAMES[kind],
        example=URL_EXAMPLES[kind],
    )  # fmt: skip
    client_id = client_id.strip()
    if kind is CrmKind.SALESFORCE and not client_id:
        raise BadInput("Give the External Client App's consumer key (client id) for Salesforce.")
    if len(client_id) > 300 or " " in client_id:
        raise BadInput("The client id is one word of at most 300 characters.")
    inbound = (webhook_secret or "").strip() or None
    if inbound is not None and not MIN_SECRET <= len(inbound) <= MAX_SECRET:
        raise BadInput(
            f"The notification secret must be {MIN_SECRET} to {MAX_SECRET} characters long "
            f"(it has {len(inbound)})."
        )
    return ConnectorInput(kind, url, secret, client_id if kind is CrmKind.SALESFORCE else "",
                          inbound)  # fmt: skip


def check_webhook(
    url: str,
    secret: str | None,
    *,
    has_secret: bool,
    allow_private: bool,
    what: str = "webhook URL",
    example: str = "https://crm.example.com/ptm",
) -> tuple[str, str | None]:
    """The connector's URL and secret as typed, checked: an https address on the internet
    (http and private addresses only when PTM_CRM_ALLOW_PRIVATE says so: a local stand-in),
    and an HMAC secret of 16 to 500 characters (blank keeps the stored one)."""
    url = url.strip()
    if len(url) > MAX_URL:
        raise BadInput(f"The {what} is longer than {MAX_URL} characters.")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise BadInput(f"The {what} does not read as a URL, e.g. `{example}`.") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes or not host or " " in url:
        raise BadInput(f"The {what} must be an https address, e.g. `{example}` (got `{url[:80]}`).")
    if parts.username or parts.password:
        raise BadInput(f"Put no user name or password in the {what}: PTM signs each call.")
    if not allow_private and _is_private(host):
        raise BadInput(
            f"`{host}` is a private or local address; PTM delivers only to addresses on the "
            "internet."
        )
    secret = (secret or "").strip() or None
    if secret is None and not has_secret:
        raise BadInput("Give the secret PTM signs each call with (16 to 500 characters).")
    if secret is not None and not MIN_SECRET <= len(secret) <= MAX_SECRET:
        raise BadInput(
            f"The secret must be {MIN_SECRET} to {MAX_SECRET} characters long "
            f"(it has {len(secret)})."
        )
    return url, secret


def _is_private(host: str) -> bool:
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return not address.is_global
