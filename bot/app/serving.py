"""`python app.py` / `ptm serve`: start the bot (HTTP or Socket Mode), stop it cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy import exc as sa_exc

from bot.adapters.server import make_web_app
from bot.app import heap
from bot.app.config import ConfigError, Settings, load_settings
from bot.app.crm_inbound import candidates_of, crm_inbound
from bot.app.factory import Runtime, build_runtime
from bot.app.scheduling import start_background
from bot.services import WrongWorkspace
from store.schema import SchemaBehind

log = logging.getLogger("ptm")


class StartupError(Exception):
    """The bot cannot start; the message is the one line the operator reads."""


def first_line(err: BaseException) -> str:
    """The driver's own message (SQLAlchemy wraps it in a long one), first line only."""
    return str(getattr(err, "orig", None) or err).strip().splitlines()[0]


def _safe_url(url: str) -> str:
    """A database URL fit for a log line: no password."""
    return re.sub(r"://([^:/@]+):[^@/]*@", r"://\1:***@", url)


async def start_runtime(settings: Settings) -> Runtime:
    """Connect the database and check the bot token, or say in one line why not."""
    try:
        runtime = await build_runtime(settings)
    except SchemaBehind:
        raise
    except SlackApiError as err:
        code = err.response.get("error", "error")
        raise StartupError(f"Slack refused SLACK_BOT_TOKEN ({code}): check the bot token") from None
    except WrongWorkspace as err:
        raise StartupError(err.message) from None
    except (OSError, sa_exc.DBAPIError, sa_exc.ArgumentError) as err:
        reason = first_line(err)
        raise StartupError(
            f"cannot use the database {_safe_url(settings.database_url)}: {reason}"
        ) from None
    heap.settle()  # start-up's objects live as long as the process: out of the GC's sight
    return runtime


SOCKET_RETRY_CAP = 60.0


async def _connect_socket_mode(handler: Any, stop: asyncio.Event) -> bool:
    """Open the Socket Mode connection, or say in one line why not. A refused app token ends
    the start (StartupError); an unreachable Slack is retried with backoff, one log line a
    try; a stop signal ends the waiting at once. False when stopped before connecting."""
    delay = 1.0
    while not stop.is_set():
        try:
            # apps.connections.open checks the token; the address it gives is then used.
            if not await _unless_stopped(_open_socket_url(handler.client), stop):
                return False
        except SlackApiError as err:
            code = err.response.get("error", "error")
            raise StartupError(
                f"Slack refused SLACK_APP_TOKEN ({code}): use an app-level token with "
                "connections:write"
            ) from None
        except (TimeoutError, OSError, SlackClientError, aiohttp.ClientError) as err:
            log.warning("cannot reach Slack for Socket Mode (%s); next try in %.0f s", err, delay)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, SOCKET_RETRY_CAP)
            continue
        return await _unless_stopped(handler.connect_async(), stop)
    return False


async def _open_socket_url(client: Any) -> None:
    client.wss_uri = await client.issue_new_wss_url()


async def _unless_stopped(work: Awaitable[Any], stop: asyncio.Event) -> bool:
    """Await `work` unless `stop` is set first (then cancel it): True when it finished."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if task in done:
        task.result()
        return True
    task.cancel()
    return False


async def serve(settings: Settings) -> None:
    """Run until SIGTERM/SIGINT, then finish in-flight requests and close the database."""
    runtime = await start_runtime(settings)
    background = start_background(runtime.deps, tenants=runtime.tenants)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        if settings.socket_mode:
            from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

            assert settings.app_token is not None
            handler = AsyncSocketModeHandler(runtime.app, settings.app_token.get_secret_value())
            try:
                if await _connect_socket_mode(handler, stop):
                    log.info("PTM running in Socket Mode")
                    await stop.wait()
            finally:
                await handler.close_async()
        else:
            assert settings.signing_secret is not None  # required in HTTP mode (bot.config)
            secret = settings.signing_secret.get_secret_value()
            crm = crm_inbound(candidates_of(runtime.deps, runtime.tenants))
            web_app = make_web_app(runtime.app, runtime.engine, signing_secret=secret, crm=crm)
            runner = web.AppRunner(web_app, shutdown_timeout=10)
            await runner.setup()
            try:
                await web.TCPSite(runner, host="0.0.0.0", port=settings.port).start()
            except OSError as err:
                await runner.cleanup()
                raise StartupError(
                    f"cannot listen on port {settings.port} ({err.strerror}): is another "
                    "process using it? Set PORT to another port."
                ) from None
            log.info(
                "PTM listening on port %s (POST /slack/events, GET /healthz), %s event loop",
                settings.port,
                type(loop).__module__.split(".")[0],
            )
            await stop.wait()
            await runner.cleanup()
    finally:
        # Requests in flight have been answered (the server stopped first); now let the
        # periodic jobs finish their current run and the work Bolt runs after each ack (card
        # posts, copy updates), then give back this process's claims and close the database.
        await background.stop(grace=10)
        await _finish_background_work(timeout=10)
        await background.release_claims()
        await runtime.close()


async def _finish_background_work(*, timeout: float) -> None:
    """Let listeners that Bolt runs after the ack (card posts, copy updates) finish before the
    database closes; otherwise a card posted just before shutdown would not be tracked."""
    pending = asyncio.all_tasks() - {asyncio.current_task()}
    if pending:
        log.info("finishing %d background task(s) before exit", len(pending))
        await asyncio.wait(pending, timeout=timeout)


def _event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it is installed (not on Windows): the same asyncio API with a cheaper
    loop — fewer system calls per request, which counts most when processes share cores."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _quiet_closed_loop(args: threading.ExceptHookArgs) -> None:
    """aiosqlite's worker thread may hand its last result to an event loop that has already
    closed — a database that could not be opened, as the process exits. Nothing is lost, and
    its traceback must not bury the one line that says what went wrong."""
    if isinstance(args.exc_value, RuntimeError) and "Event loop is closed" in str(args.exc_value):
        return
    threading.__excepthook__(args)


def quiet_closed_loop_threads() -> None:
    """Install the hook above for this process: `python app.py`, `ptm serve` and every job."""
    threading.excepthook = _quiet_closed_loop


def run_bot() -> int:
    """Entry point of `python app.py` / `ptm serve`: one clear line on bad configuration."""
    quiet_closed_loop_threads()
    logging.basicConfig(
        level=os.environ.get("PTM_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = load_settings(os.environ)
    except ConfigError as err:
        print(f"ptm: configuration error: {err}", file=sys.stderr)  # noqa: T201
        return 2
    try:
        with asyncio.Runner(loop_factory=_event_loop_factory()) as runner:
            runner.run(serve(settings))
    except (SchemaBehind, StartupError) as err:
        print(f"ptm: {err}", file=sys.stderr)  # noqa: T201
        return 2
    return 0
