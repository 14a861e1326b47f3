"""The `ptm` jobs that work on the database: schema, digests now, partners, outbox, report."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import services
from bot.app import heap
from bot.app.config import ConfigError, Settings, load_settings
from bot.app.deps import Deps
from bot.app.factory import build_runtime, token_team
from bot.app.scheduling import run_digests
from bot.app.serving import first_line
from bot.domain import periods
from bot.domain.inputs import parse_deal_key
from bot.domain.model import DomainError
from bot.views.report import render_csv, render_table
from store import make_engine, make_session_factory, schema, uow_factory
from store.outbox import Delivery
from store.schema import SchemaBehind


def run_job(
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
    except (SchemaBehind, JobError) as err:
        print(f"ptm: {err}", file=sys.stderr)  # noqa: T201
        return 2
    except (OSError, sa_exc.DBAPIError, sa_exc.ArgumentError) as err:
        reason = first_line(err)
        print(f"ptm: cannot use the database: {reason}", file=sys.stderr)  # noqa: T201
        return 2


async def db_action(url: str, action: str, team_id: str | None = None) -> int:
    """`ptm db upgrade` applies every missing migration (and gives the data from before
    tenants to its workspace); `ptm db status` says where the schema stands."""
    engine = make_engine(url)
    try:
        if action == "status":
            current, latest = await schema.current_revision(engine), schema.head()
            state = "up to date" if current == latest else "behind: run `ptm db upgrade`"
            print(f"schema {current or 'empty'}, latest {latest}: {state}")  # noqa: T201
            return 0 if current == latest else 1
        done = await schema.upgrade(engine)
        if done.before == done.after:
            print(f"database schema already at {done.after}")  # noqa: T201
        else:
            print(f"database schema upgraded: {done.before or 'empty'} → {done.after}")  # noqa: T201
        return await _name_upgraded_data(engine, team_id)
    finally:
        await engine.dispose()


async def _name_upgraded_data(engine: AsyncEngine, team_id: str | None) -> int:
    """Data from before tenants belongs to the workspace given, else to the bot token's."""
    uows = uow_factory(make_session_factory(engine))
    if not await services.unnamed_tenants(uows):
        return 0
    team_id = team_id or await token_team(os.environ)
    if team_id is None:
        print(  # noqa: T201
            "the existing data belongs to one workspace, not named yet: the bot takes it at its "
            "next start (or name it: `ptm db upgrade --team-id T…`)"
        )
        return 0
    try:
        await services.name_unnamed_tenant(uows, team_id)
    except DomainError as err:
        print(f"ptm: {err.message}", file=sys.stderr)  # noqa: T201
        return 2
    print(f"the existing data now belongs to workspace {team_id}")  # noqa: T201
    return 0


async def purge_org(url: str, team_id: str, export: str | None) -> int:
    """`ptm org purge T… [--export FILE]`: the export is written before anything is deleted;
    if it cannot be, nothing is."""
    engine = make_engine(url)
    try:
        await schema.prepare(engine)

        def keep(data: dict[str, object]) -> None:
            if export is not None:
                text = json.dumps(data, ensure_ascii=False, indent=1)
                Path(export).write_text(text + "\n", encoding="utf-8")

        counts = await services.purge_tenant(
            uow_factory(make_session_factory(engine)), team_id, keep=keep
        )
    except DomainError as err:
        print(f"ptm: {err.message}", file=sys.stderr)  # noqa: T201
        return 2
    except OSError as err:
        print(f"ptm: cannot write {export}: {err.strerror}; nothing deleted", file=sys.stderr)  # noqa: T201
        return 2
    finally:
        await engine.dispose()
    if export is not None:
        print(f"exported to {export}")  # noqa: T201
    print(  # noqa: T201
        f"purged {team_id}: {counts.get('deals', 0)} deals, "
        f"{sum(counts.values())} rows in all, and its Slack tokens"
    )
    return 0


class JobError(Exception):
    """A job that cannot start; the message is the one line the operator reads."""


@asynccontextmanager
async def _job_deps(settings: Settings, team: str | None) -> AsyncIterator[Deps]:
    """What a command-line job needs — with many workspaces, for the one `--team` names —
    closed (database pool included) when the job is done."""
    runtime = await build_runtime(settings)
    heap.settle()  # see bot.app.heap: a digest job builds many objects
    try:
        if runtime.deps is not None:
            yield runtime.deps
            return
        assert runtime.tenants is not None
        if team is None:
            raise JobError(
                "many workspaces: name the workspace with --team T… (or E… for a Grid org)"
            )
        deps = await runtime.tenants.for_job(team)
        if deps is None:
            raise JobError(f"no workspace {team[:40]} has installed PTM here")
        yield deps
    finally:
        await runtime.close()


async def digest_now(settings: Settings, users: list[str] | None, team: str | None = None) -> int:
    async with _job_deps(settings, team) as deps:
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


async def import_partners(settings: Settings, path: str, team: str | None = None) -> int:
    """Import a capability-map CSV: a progress bar on stderr, then every rejected row."""
    try:
        text = read_csv_file(Path(path))
    except OSError as err:
        print(f"ptm: cannot read {path}: {err.strerror}", file=sys.stderr)  # noqa: T201
        return 2
    except ValueError as err:
        print(f"ptm: {path}: {err}", file=sys.stderr)  # noqa: T201
        return 2
    async with _job_deps(settings, team) as deps:
        bar = _progress_bar if sys.stderr.isatty() else None  # no bar into a log or a pipe
        report = await services.import_partners(deps.ctx, text, progress=bar)
    print(  # noqa: T201
        f"{chr(10) if bar else ''}partners added: {report.added}, updated: {report.updated}, "
        f"rejected rows: {len(report.rejected)}"
    )
    for rejected in report.rejected:
        print(f"  line {rejected.line}: {rejected.reason}")  # noqa: T201
    return 1 if report.rejected else 0


async def outbox(settings: Settings, action: str, path: str | None, team: str | None = None) -> int:
    """`ptm outbox` lists dead letters; `retry` revives them; `export FILE` writes the outcomes
    kept for a side without a connector, as JSON records that side can import."""
    async with _job_deps(settings, team) as deps:
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
        attention = await services.attention(ctx)
        for side, detail in sorted(attention.items()):
            print(f"needs attention: the {side} CRM connector: {detail}")  # noqa: T201
        waiting = await services.outbox_listing(ctx, ["pending"])
        print(f"waiting: {len(waiting)}")  # noqa: T201
        for r in waiting:
            if r.attempts:
                print(f"  {_delivery_line(r)} (retrying)")  # noqa: T201
        dead = await services.outbox_listing(ctx, ["dead"])
        print(f"dead letters: {len(dead)}")  # noqa: T201
        for r in dead:
            print(f"  {_delivery_line(r)}")  # noqa: T201
        return 1 if dead or attention else 0


def _delivery_line(r: Delivery) -> str:
    body = json.loads(r.body)
    what = {
        "outcome": "",
        "update": f" write-back of {', '.join(body.get('fields', []))}",
        "aws": " co-sell submission",
        "aws_update": " update of the AWS opportunity",
    }.get(r.kind, f" {r.kind}")
    return (
        f"#{r.id} {body.get('deal_key', f'deal {r.deal_id}')}{what} → "
        f"{'AWS' if r.side == 'aws' else f'{r.side} CRM'} after "
        f"{r.attempts} attempts: {r.last_error}"
    )


async def report(settings: Settings, args: argparse.Namespace, team: str | None = None) -> int:
    """`ptm report`: every deal, the table on stdout; CSV and the PNG chart on request."""
    try:
        period = periods.parse_period(args.since, args.until, today=datetime.now(UTC).date())
    except DomainError as err:
        print(f"ptm: {err.message}", file=sys.stderr)  # noqa: T201
        return 2
    async with _job_deps(settings, team) as deps:
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


async def disclosures(settings: Settings, args: argparse.Namespace, team: str | None = None) -> int:
    """`ptm disclosures`: the ledger as a table on stdout, and as CSV with --csv."""
    from bot.services import disclosures as ledger

    try:
        number = parse_deal_key(args.deal) if args.deal else None
        if args.deal and number is None:
            raise DomainError(f"`{args.deal[:20]}` is not a deal key; keys look like PTM-12.")
        async with _job_deps(settings, team) as deps:
            rows = await ledger.listing(deps.ctx, to=args.to, deal_number=number, since=args.since)
    except DomainError as err:
        print(f"ptm: {err.message}", file=sys.stderr)  # noqa: T201
        return 2
    for r in rows:
        company = f" ({r.receiving_company})" if r.receiving_company else ""
        print(  # noqa: T201
            f"{r.at.isoformat(timespec='seconds')}  {r.deal_key} v{r.version}  {r.field:<12} "
            f"{r.surface:<8} -> {r.receiving_team or 'unknown team'}{company}"
        )
    print(f"{len(rows)} disclosure(s)")  # noqa: T201
    if args.csv:
        try:
            Path(args.csv).write_text(ledger.to_csv(rows), encoding="utf-8")
        except OSError as err:
            print(f"ptm: cannot write {err.filename}: {err.strerror}", file=sys.stderr)  # noqa: T201
            return 2
        print(f"CSV written to {args.csv}")  # noqa: T201
    return 0


async def export_partners(settings: Settings, path: str, team: str | None = None) -> int:
    async with _job_deps(settings, team) as deps:
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
