"""What listeners need, in one typed object put into Bolt's context by one middleware."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from bot.adapters.crm import CrmConnectors
from bot.app.activity import ActivityThrottle
from bot.app.homes import HomeRefresher
from bot.domain.cosell import PartnerCentralPort

if TYPE_CHECKING:
    from bot.adapters.slack import SlackGateway
    from bot.app.cardsync import CardSyncer
    from bot.app.config import Settings
    from bot.services import Ctx


# This process, as named in the database's leases and claims (digests, outbox, card updates).
PROCESS_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class Deps:
    settings: Settings
    ctx: Ctx
    slack: SlackGateway
    cards: CardSyncer
    activity: ActivityThrottle
    homes: HomeRefresher
    crm: CrmConnectors
    # AWS Partner Central, when PTM_AWS_SOLUTION_ID turns co-sell with AWS on.
    aws: PartnerCentralPort | None = None
    # Applies the bot mentions a dead process received (the listener's own path; set by the
    # app factory, the one place that knows the handlers).
    replay_mentions: Callable[[Deps], Awaitable[int]] | None = None
    # Another tenant's deps, to reach its people through its own installation (a partnership's
    # other side); None with one workspace.
    peer: Callable[[int], Awaitable[Deps | None]] | None = None


DEPS_KEY = "ptm_deps"
# A request routed to another company's deal (bot.app.routing): that company's installation
# (team, enterprise), which decides who is internal; and both bot users a mention may name.
HOME_KEY = "ptm_home"
BOTS_KEY = "ptm_bots"


def deps_of(context: Any) -> Deps:
    deps = context[DEPS_KEY]
    assert isinstance(deps, Deps)
    return deps


def inject_middleware(deps: Deps) -> Callable[..., Awaitable[Any]]:
    """A global middleware that only hands the Deps over; it never opens a DB session."""

    async def inject(context: Any, next: Callable[[], Awaitable[Any]]) -> Any:  # noqa: A002
        context[DEPS_KEY] = deps
        return await next()

    return inject
