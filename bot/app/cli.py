"""`python app.py` and the `ptm` command line: run the bot (HTTP or Socket Mode)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy import exc as sa_exc

from bot import services
from bot.adapters.server import make_web_app
from bot.app.config import ConfigError, Settings, database_url, load_settings
from bot.app.deps import Deps
from bot.app.factory import Runtime, build_runtime
from bot.app.scheduling import run_digests, start_background
from bot.domain import metrics
from bot.domain.capability import CSV_HEADER
from bot.domain.model import DomainError
from bot.views.report import render_csv, render_table
from store import make_engine, schema
from store.schema import SchemaBehind

log = logging.getLogger("ptm")


class StartupError(Exception):
    """The bot cannot start; the message is the one line the operator reads."""


def _first_line(err: BaseException) -> str:
    """The driver's own message (SQLAlchemy wraps it in a long one), first line only."""
    return str(getattr(err, "orig", None) or err).strip().splitlines()[0]


def _safe_url(url: str) -> str:
    """A database URL fit for a log line: no password."""
    return re.sub(r"://([^:/@]+):[^@/]*@", r"://\1:***@", url)


async def _start_runtime(settings: Settings) -> Runtime:
    """Connect the database and check the bot token, or say in one line why not."""
    try:
        runtime = await build_runtime(settings)
    except SchemaBehind:
        raise
    except (OSError, sa_exc.DBAPIError, sa_exc.ArgumentError) as err:
        reason = _first_line(err)
        raise StartupError(
            f"cannot use the database {_safe_url(settings.database_url)}: {reason}"
        ) from None
    try:
        # A wrong token is found now, not at the first user's command.
        await runtime.deps.slack.installation()
    except SlackApiError as err:
        await runtime.close()
        code = err.response.get("error", "error")
        raise StartupError(f"Slack refused SLACK_BOT_TOKEN ({code}): check the bot token") from None
    except (TimeoutError, OSError, SlackClientError) as err:
        # Slack unreachable right now: serve anyway, the token is checked again on first use.
        log.warning("could not reach Slack to check the bot token (%s); starting anyway", err)
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
    runtime = await _start_runtime(settings)
    background = start_background(runtime.deps)
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
            web_app = make_web_app(runtime.app, runtime.engine, signing_secret=secret)
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


def run_bot() -> int:
    """Entry point of `python app.py` / `ptm serve`: one clear line on bad configuration."""
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


def _version() -> str:
    try:
        return version("ptm")
    except PackageNotFoundError:  # run from a checkout that was not installed
        return "unknown (not installed)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="ptm", description="PTM: partner co-sell deal cards in Slack."
    )
    parser.add_argument("--version", action="version", version=f"ptm {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser(
        "serve",
        help="run the bot (HTTP, or Socket Mode when SLACK_APP_TOKEN is set)",
        description="Run the bot: HTTP on PORT (POST /slack/events), or Socket Mode when "
        "SLACK_APP_TOKEN is set. Same as `python app.py`.",
    )
    digest = sub.add_parser(
        "digest",
        help="send today's digests now",
        description="Send today's digest DMs now, whatever the hour; still once a day per person.",
    )
    digest.add_argument(
        "--now",
        action="store_true",
        required=True,
        help="send today's digests now, whatever the hour (still once a day)",
    )
    digest.add_argument(
        "--user", action="append", metavar="USER_ID", help="only this Slack user (repeatable)"
    )
    partners = sub.add_parser(
        "partners",
        help="the partner capability map as CSV",
        description="Import or export the capability map (needs only DATABASE_URL).",
    )
    partner_sub = partners.add_subparsers(dest="action", required=True, metavar="ACTION")
    header = ",".join(CSV_HEADER)
    partner_sub.add_parser(
        "import",
        help="add or update partners by name from a CSV file",
        description=f"Add or update partners by name. FILE is UTF-8 CSV with the header "
        f"{header}; several values in one cell are separated by ';'. Bad rows are reported "
        "by line number while the good ones import.",
    ).add_argument("file", metavar="FILE", help=f"CSV file with the header {header}")
    partner_sub.add_parser(
        "export", help="write every partner to a CSV file", description="Write the map as CSV."
    ).add_argument("file", metavar="FILE", help="where to write the CSV")
    outbox = sub.add_parser(
        "outbox",
        help="CRM deliveries: list dead letters, retry, export",
        description="CRM deliveries (needs only DATABASE_URL): `list` the dead letters, "
        "`retry` them, or `export FILE` the outcomes kept for a side without a connector.",
    )
    outbox.add_argument("action", nargs="?", choices=["list", "retry", "export"], default="list")
    outbox.add_argument("file", nargs="?", metavar="FILE", help="with export: the JSON file")
    report = sub.add_parser(
        "report",
        help="seller activation, win rates, attribution and the operator check",
        description="The metrics over every deal (needs only DATABASE_URL); UTC days.",
    )
    report.add_argument("--since", metavar="YYYY-MM-DD", help="first day (default: 90 days back)")
    report.add_argument("--until", metavar="YYYY-MM-DD", help="last day (default: today, UTC)")
    report.add_argument("--csv", metavar="FILE", help="also write every figure as CSV")
    report.add_argument("--chart", metavar="FILE.png", help="also draw the weekly trend as PNG")
    db = sub.add_parser(
        "db",
        help="the database schema",
        description="Apply the schema migrations, or show where the schema stands "
        "(needs only DATABASE_URL; back up before upgrading).",
    )
    db.add_argument(
        "action", choices=["upgrade", "status"], help="apply migrations / show revision"
    )
    args = parser.parse_args(argv)
    if args.command == "db":
        # Needs only DATABASE_URL: a deploy step can migrate without the Slack secrets.
        return _run_job(lambda url: _db_action(url, args.action), load=database_url)
    # These jobs only read and write the database: they run without Slack tokens.
    database_only = partial(load_settings, slack=False)
    if args.command == "report":
        return _run_job(lambda settings: _report(settings, args), load=database_only)
    if args.command == "outbox":
        return _run_job(
            lambda settings: _outbox(settings, args.action, args.file), load=database_only
        )
    if args.command == "partners":
        if args.action == "import":
            return _run_job(lambda s: _import_partners(s, args.file), load=database_only)
        return _run_job(lambda s: _export_partners(s, args.file), load=database_only)
    if args.command == "serve":
        return run_bot()
    if args.command == "digest":
        return _run_job(lambda settings: _digest_now(settings, args.user))
    return 2


def _run_job(
    job: Callable[[Any], Awaitable[int]], load: Callable[[Mapping[str, str]], Any] = load_settings
) -> int:
    """Run a command-line job on what `load` reads from the environment (all the settings, by
    default); a bad setting or a schema that is behind ends it with one line and exit code 2."""
    logging.basicConfig(level=os.environ.get("PTM_LOG_LEVEL", "WARNING"))
    try:
        loaded = load(os.environ)
    except ConfigError as err:
        print(f"ptm: configuration error: {err}", file=sys.stderr)  # noqa: T201
        return 2
    try:
        return asyncio.run(job(loaded))
    except SchemaBehind as err:
        print(f"ptm: {err}", file=sys.stderr)  # noqa: T201
        return 2
    except (OSError, sa_exc.DBAPIError, sa_exc.ArgumentError) as err:
        reason = _first_line(err)
        print(f"ptm: cannot use the database: {reason}", file=sys.stderr)  # noqa: T201
        return 2


async def _db_action(url: str, action: str) -> int:
    """`ptm db upgrade` applies every missing migration; `ptm db status` says where the
    schema stands."""
    engine = make_engine(url)
    try:
        if action == "status":
            current, latest = await schema.current_revision(engine), schema.head()
            state = "up to date" if current == latest else "behind: run `ptm db upgrade`"
            print(f"schema {current or 'empty'}, latest {latest}: {state}")  # noqa: T201
            return 0 if current == latest else 1
        done = await schema.upgrade(engine)
    finally:
        await engine.dispose()
    if done.before == done.after:
        print(f"database schema already at {done.after}")  # noqa: T201
    else:
        print(f"database schema upgraded: {done.before or 'empty'} → {done.after}")  # noqa: T201
    return 0


@asynccontextmanager
async def _job_deps(settings: Settings) -> AsyncIterator[Deps]:
    """What a command-line job needs, closed (database pool included) when the job is done."""
    runtime = await build_runtime(settings)
    try:
        yield runtime.deps
    finally:
        await runtime.close()


async def _digest_now(settings: Settings, users: list[str] | None) -> int:
    async with _job_deps(settings) as deps:
        sent = 0

        def show(_user: str) -> None:
            nonlocal sent
            sent += 1
            if sys.stderr.isatty():
                print(f"\rdigests sent: {sent}", end="", file=sys.stderr, flush=True)  # noqa: T201

        only = set(users) if users else None
        report = await run_digests(deps, hour=0, only=only, on_sent=show)
        if sent and sys.stderr.isatty():
            print(file=sys.stderr)  # noqa: T201
    print(  # noqa: T201
        f"digests sent: {len(report.sent)}, nothing to say: {len(report.empty)}, "
        f"failed (will retry): {len(report.failed)}"
    )
    return 1 if report.failed else 0


async def _import_partners(settings: Settings, path: str) -> int:
    """Import a capability-map CSV: a progress bar on stderr, then every rejected row."""
    try:
        text = read_csv_file(Path(path))
    except OSError as err:
        print(f"ptm: cannot read {path}: {err.strerror}", file=sys.stderr)  # noqa: T201
        return 2
    except ValueError as err:
        print(f"ptm: {path}: {err}", file=sys.stderr)  # noqa: T201
        return 2
    async with _job_deps(settings) as deps:
        bar = _progress_bar if sys.stderr.isatty() else None  # no bar into a log or a pipe
        report = await services.import_partners(deps.ctx, text, progress=bar)
    print(  # noqa: T201
        f"{chr(10) if bar else ''}partners added: {report.added}, updated: {report.updated}, "
        f"rejected rows: {len(report.rejected)}"
    )
    for rejected in report.rejected:
        print(f"  line {rejected.line}: {rejected.reason}")  # noqa: T201
    return 1 if report.rejected else 0


async def _outbox(settings: Settings, action: str, path: str | None) -> int:
    """`ptm outbox` lists dead letters; `retry` revives them; `export FILE` writes the outcomes
    kept for a side without a connector, as JSON records that side can import."""
    async with _job_deps(settings) as deps:
        ctx = deps.ctx
        if action == "retry":
            print(f"dead letters queued again: {await services.retry_dead(ctx)}")  # noqa: T201
            return 0
        if action == "export":
            if not path:
                print("ptm: outbox export needs a FILE", file=sys.stderr)  # noqa: T201
                return 2
            records = await services.outbox_listing(ctx, ["export"])
            lines = [
                json.dumps(
                    {
                        "side": r.side,
                        "idempotency_key": r.idempotency_key,
                        "record": json.loads(r.body),
                    }
                )
                for r in records
            ]
            Path(path).write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
            print(f"outcomes exported: {len(records)} to {path}")  # noqa: T201
            return 0
        dead = await services.outbox_listing(ctx, ["dead"])
        print(f"dead letters: {len(dead)}")  # noqa: T201
        for r in dead:
            outcome = json.loads(r.body)
            print(
                f"  #{r.id} {outcome['deal_key']} → {r.side} CRM after {r.attempts} attempts: "  # noqa: T201
                f"{r.last_error}"
            )
        return 1 if dead else 0


async def _report(settings: Settings, args: argparse.Namespace) -> int:
    """`ptm report`: every deal, the table on stdout; CSV and the PNG chart on request."""
    try:
        period = metrics.parse_period(args.since, args.until, today=datetime.now(UTC).date())
    except DomainError as err:
        print(f"ptm: {err.message}", file=sys.stderr)  # noqa: T201
        return 2
    async with _job_deps(settings) as deps:
        figures = await services.measure(deps.ctx, None, period=period)
    print(render_table(figures), end="")  # noqa: T201
    try:
        if args.csv:
            Path(args.csv).write_text(render_csv(figures), encoding="utf-8")
            print(f"CSV written to {args.csv}")  # noqa: T201
        if args.chart:
            from bot.adapters.charts import (
                render_chart,  # matplotlib loads only when a chart is asked for
            )

            Path(args.chart).write_bytes(render_chart(figures))
            print(f"chart written to {args.chart}")  # noqa: T201
    except OSError as err:
        print(f"ptm: cannot write {err.filename}: {err.strerror}", file=sys.stderr)  # noqa: T201
        return 2
    return 0


async def _export_partners(settings: Settings, path: str) -> int:
    async with _job_deps(settings) as deps:
        text = await services.export_partners(deps.ctx)
    Path(path).write_text(text, encoding="utf-8")
    print(f"partners exported: {text.count(chr(10)) - 1} to {path}")  # noqa: T201
    return 0


# A capability map of a million partners is still far smaller than this.
MAX_CSV_BYTES = 200 * 1024 * 1024
_COMPRESSED = {b"\x1f\x8b": "gzip", b"PK\x03\x04": "zip", b"BZh": "bzip2", b"\xfd7zXZ": "xz"}


def read_csv_file(path: Path) -> str:
    """A CSV file's text: UTF-8 (with or without BOM) or UTF-16 with a BOM. Anything else —
    another encoding, a compressed or binary file, an absurd size — is a ValueError whose
    message says what to do."""
    if path.stat().st_size > MAX_CSV_BYTES:
        raise ValueError(f"the file is over {MAX_CSV_BYTES // 2**20} MB; split it")
    data = path.read_bytes()
    for magic, kind in _COMPRESSED.items():
        if data.startswith(magic):
            raise ValueError(f"this is a {kind} file; unpack it and import the CSV inside")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ValueError(
            f"line {line} is not UTF-8 (byte 0x{data[err.start]:02x}); save the file as "
            "UTF-8 (in Excel: CSV UTF-8) and import it again"
        ) from None
    if "\x00" in text[:4096] and text[:4096].count("\x00") > 16:
        raise ValueError("this looks like a binary file, not CSV text")
    return text


def _progress_bar(done: int, total: int) -> None:
    width = 30
    filled = width * done // max(total, 1)
    bar = "#" * filled + "-" * (width - filled)
    print(f"\r[{bar}] {done}/{total}", end="", file=sys.stderr, flush=True)  # noqa: T201
