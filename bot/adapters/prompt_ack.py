"""Answer Slack the moment PTM acks, not at Bolt's next poll.

With `process_before_response` off (HTTP, as PTM runs), Bolt starts the listener and then checks
every 10 ms whether it has acked (`AsyncioListenerRunner.run`), so every answer waited for the
next tick: 11–12 ms for PTM and for a bare Bolt app alike, whatever the listener's own time. Here
the ack (`PromptAck`) sets an event when it is given, and the runner (`PromptListenerRunner`)
returns as soon as it is set, or as soon as the listener ends without acking. Everything else —
auto-acknowledged events, lazy listeners, `process_before_response`, requests that did not come
through PTM's HTTP server (Socket Mode) — goes through Bolt's own runner unchanged.

`PromptAck` also notes when PTM acked: the server reports it (`Server-Timing: ack;dur=…`), the
time PTM's own work took from the request's arrival to its answer.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.listener.async_listener import AsyncListener
from slack_bolt.listener.asyncio_runner import AsyncioListenerRunner
from slack_bolt.logger.messages import warning_did_not_call_ack
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

_RUNNING: set[asyncio.Future[None]] = set()


class PromptAck(AsyncAck):
    """Bolt's ack, which also says when it was given (and wakes whoever waits for it)."""

    def __init__(self, arrived: float) -> None:
        super().__init__()
        self.arrived = arrived  # time.perf_counter() when the request arrived
        self.acked_at: float | None = None
        self.given = asyncio.Event()

    async def __call__(self, *args: Any, **kwargs: Any) -> BoltResponse:
        response = await super().__call__(*args, **kwargs)
        if self.acked_at is None:
            self.acked_at = time.perf_counter()
        self.given.set()
        return response

    @property
    def took_ms(self) -> float | None:
        return None if self.acked_at is None else (self.acked_at - self.arrived) * 1000


class PromptListenerRunner(AsyncioListenerRunner):
    """Bolt's listener runner, but waiting for the ack instead of polling for it."""

    @classmethod
    def replacing(cls, runner: AsyncioListenerRunner) -> PromptListenerRunner:
        """The same runner (its error, start and completion handlers, lazy runner)."""
        return cls(
            logger=runner.logger,
            process_before_response=runner.process_before_response,
            listener_error_handler=runner.listener_error_handler,
            listener_start_handler=runner.listener_start_handler,
            listener_completion_handler=runner.listener_completion_handler,
            lazy_listener_runner=runner.lazy_listener_runner,
        )

    async def run(
        self,
        request: AsyncBoltRequest,
        response: BoltResponse,
        listener_name: str,
        listener: AsyncListener,
        starting_time: float | None = None,
    ) -> BoltResponse | None:
        ack = request.context.ack
        if (
            self.process_before_response
            or request.lazy_only
            or listener.lazy_functions
            or listener.auto_acknowledgement
            or not isinstance(ack, PromptAck)
        ):
            return await super().run(request, response, listener_name, listener, starting_time)
        task = asyncio.ensure_future(self._listen(ack, request, response, listener))
        _RUNNING.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(_RUNNING.discard)
        given = asyncio.ensure_future(ack.given.wait())
        await asyncio.wait(
            {task, given}, timeout=listener.ack_timeout, return_when="FIRST_COMPLETED"
        )
        given.cancel()
        # As Bolt's runner decides, once the ack is given (or the listener ended without it).
        if response is None and ack.response is None:
            self.logger.warning(warning_did_not_call_ack(listener_name))
            return None
        if response is None:
            return ack.response
        return response

    async def _listen(
        self,
        ack: AsyncAck,
        request: AsyncBoltRequest,
        response: BoltResponse | None,
        listener: AsyncListener,
    ) -> None:
        """The listener, run after the answer as Bolt runs it (its errors to the error handler,
        as a 500 answer when it had not acked yet)."""
        try:
            await self.listener_start_handler.handle(request=request, response=response)
            await listener.run_ack_function(request=request, response=response)
        except Exception as e:  # noqa: BLE001 - as Bolt's runner: every error to the handler
            if response is None:
                response = BoltResponse(status=500)
            response.status = 500
            if ack.response is not None:  # already acknowledged
                response = None
            await self.listener_error_handler.handle(error=e, request=request, response=response)
            ack.response = response
        finally:
            await self.listener_completion_handler.handle(request=request, response=response)
