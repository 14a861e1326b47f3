"""The one error path for what no listener expected: log it with a reference, tell the user."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from slack_bolt.async_app import AsyncApp

from blocks.replies import build_notice

log = logging.getLogger(__name__)


def register(app: AsyncApp) -> None:
    app.error(handle_unexpected_error)


async def handle_unexpected_error(error: Exception, body: dict[str, Any], respond: Any) -> None:
    ref = uuid.uuid4().hex[:8]
    log.error(
        "unexpected error (ref %s) on %s",
        ref,
        body.get("type") or body.get("command"),
        exc_info=error,
    )
    if respond is not None and body.get("response_url"):
        await respond(
            response_type="ephemeral",
            replace_original=False,
            **build_notice(
                f"Something went wrong on our side (ref `{ref}`). What was saved before it "
                "shows on the deal card: check the card before you try again."
            ),
        )
