"""PTM answers Slack the moment a listener acks (bot.adapters.prompt_ack), where Bolt's own
runner looks every 10 ms; errors and a missing ack end as Bolt ends them."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.adapters.prompt_ack import PromptAck, PromptListenerRunner
from bot.demo import wire


def command(text: str) -> AsyncBoltRequest:
    form = wire.command_form(
        text, user="U1", channel="C1", team="T1", response_url="http://x", trigger_id="t"
    )
    return AsyncBoltRequest(body=wire.encode_form(form), headers={}, mode="http")


async def authorize(**_kwargs: Any) -> AuthorizeResult:
    """A workspace known without asking Slack (this test reaches no Web API)."""
    return AuthorizeResult(enterprise_id=None, team_id="T1", bot_token="xoxb-x", bot_user_id="UB")


def app(prompt: bool, listener: Any) -> AsyncApp:
    bolt = AsyncApp(signing_secret="s", authorize=authorize, request_verification_enabled=False)
    bolt.command("/ptm")(listener)
    if prompt:
        bolt._async_listener_runner = PromptListenerRunner.replacing(bolt._async_listener_runner)
    return bolt


async def answer(bolt: AsyncApp, text: str, *, prompt: bool) -> tuple[Any, float, PromptAck]:
    request = command(text)
    ack = request.context["ack"] = PromptAck(time.perf_counter())
    if not prompt:  # Bolt's own runner gets Bolt's own ack
        request.context["ack"] = type(ack).__mro__[1]()
    started = time.perf_counter()
    response = await bolt.async_dispatch(request)
    return response, time.perf_counter() - started, ack


async def test_the_answer_leaves_when_the_listener_acks_not_at_the_next_poll() -> None:
    finished: list[bool] = []

    async def listener(ack: Any) -> None:
        await ack(text="done")
        await asyncio.sleep(0.2)  # work after the answer
        finished.append(True)

    prompt, stock = app(True, listener), app(False, listener)
    ours = [await answer(prompt, "help", prompt=True) for _ in range(15)]
    bolts = [await answer(stock, "help", prompt=False) for _ in range(15)]
    assert all(r.status == 200 and "done" in r.body for r, _, _ in ours + bolts)
    assert not finished or len(finished) < 30  # answers went out before the work was done
    # Bolt's runner sleeps 10 ms before it first looks: never under that. Ours: when acked.
    assert min(t for _, t, _ in bolts) >= 0.010
    assert statistics.median(t for _, t, _ in ours) < 0.010
    assert all(a.took_ms is not None and a.took_ms >= 0 for _, _, a in ours)
    await asyncio.sleep(0.25)


async def test_an_error_before_the_ack_answers_500_and_reaches_the_error_handler() -> None:
    seen: list[BaseException] = []

    async def listener() -> None:
        raise RuntimeError("boom")

    bolt = app(True, listener)

    @bolt.error
    async def on_error(error: BaseException) -> None:
        seen.append(error)

    response, took, _ = await answer(bolt, "help", prompt=True)
    assert response.status == 500 and [str(e) for e in seen] == ["boom"]
    assert took < 1.0  # not Bolt's 3-second wait for an ack that never comes


async def test_a_listener_that_never_acks_gets_no_answer_without_the_wait() -> None:
    async def listener() -> None:
        return None

    response, took, ack = await answer(app(True, listener), "help", prompt=True)
    assert ack.response is None and took < 1.0
    assert response is None or response.status == 404
