"""Benchmark: changes per second with one PTM process and with two, on PostgreSQL.

    python bench/throughput.py [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/ptm_bench]
                               [--deals 40] [--changes 1600] [--concurrency 32] [--warmup 400]
                               [--rounds 3] [--modes both|one|many|none] [--floor]

Each round runs 1 and then 2 `python app.py` processes on a fresh schema, serving one workspace
(SLACK_BOT_TOKEN) and then many (OAuth, installed with "Add to Slack" first): 40 deals, each in its
own deal room, 400 `/ptm next …` commands to warm up, then 1,600 measured ones (a real change
each, written before the answer), 32 in flight at a time, spread over the deals and alternating
between the processes. Reports changes per second, lost updates (every deal's version must have
risen by exactly its share), the CPU spent per change by the PTM processes, PostgreSQL and this
load generator (which also plays Slack's Web API), PostgreSQL transactions per change and new
connections, and the machine's CPU time by kind, to say where the time goes; then the ratio of
each round and their median. `--floor` first runs, each round, the floor (bench/floor.py: aiohttp
and asyncpg running PTM's statements for the change and its card pass) and PTM with one process
on the same deals, and reports PTM ÷ floor for CPU per change and throughput (issue 18, target
1); `--modes none --floor` runs only that."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.fernet import Fernet  # noqa: E402

from bench.http_latency import install  # noqa: E402
from bench.live import (  # noqa: E402
    BENCH_POSTGRES,
    SignedClient,
    fake_slack,
    free_port,
    machine,
    ptm_env,
    spawn,
    stop,
    unique_database,
)
from tests.fakes.slack_api import Workspace  # noqa: E402
from tests.support.databases import fresh_postgres  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_by_pid(pids: list[int]) -> dict[int, float]:
    """utime + stime of each process, in seconds."""
    found = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / TICKS
    return found


def machine_times() -> list[float]:
    """Seconds all cores have spent since boot in user, nice, system, idle, iowait, irq,
    softirq and steal time (the `cpu` line of /proc/stat)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    return [int(f) / TICKS for f in fields[1:9]]


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two readings; processes born in between count from zero."""
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())


def postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


async def versions(url: str) -> dict[int, int]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return dict((await conn.execute(sa.text("SELECT id, version FROM deals"))).all())  # type: ignore[arg-type]
    finally:
        await engine.dispose()


async def pg_counts(url: str) -> tuple[int, int]:
    """Transactions PostgreSQL has ended in this database (committed or rolled back), and
    connections it has accepted."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
            row = (
                await conn.execute(
                    sa.text(
                        "SELECT xact_commit + xact_rollback, sessions FROM pg_stat_database "
                        "WHERE datname = current_database()"
                    )
                )
            ).one()
            return int(row[0]), int(row[1])
    finally:
        await engine.dispose()


MANY = {
    "SLACK_BOT_TOKEN": "",
    "SLACK_CLIENT_ID": "1111.2222",
    "SLACK_CLIENT_SECRET": "bench",
    "PTM_SECRET_KEY": Fernet.generate_key().decode(),
}


async def one_run(
    url: str,
    processes: int,
    deals: int,
    changes: int,
    concurrency: int,
    warmup: int,
    *,
    many: bool = False,
    shared: bool = False,
    floor: bool = False,
) -> dict[str, float]:
    """One measured run; `many`: the processes serve many workspaces (OAuth), installed first
    through "Add to Slack" by the one workspace the load comes from; `floor`: PTM makes the
    deals, then bench/floor.py (aiohttp + asyncpg, PTM's statements) takes the load instead."""
    await fresh_postgres(url)
    fake = await fake_slack()
    fake.install_codes = {"bench": Workspace("T0URS", "Ours", "USELLER", "xoxb-bench-many")}
    if shared:  # every deal room is a Slack Connect channel: each pass writes to the ledger
        fake.channel_teams.update({f"CROOM{d}": ["T0URS", "TPARTNER"] for d in range(deals)})
    work = Path(tempfile.mkdtemp(prefix="ptm-throughput-"))
    ports = [free_port() for _ in range(processes)]
    extra = MANY if many else {}
    procs = [
        await spawn(["app.py"], ptm_env(fake, url, p, **extra), p, work / f"ptm{i}.log")
        for i, p in enumerate(ports)
    ]
    try:
        if many:
            await install(ports[0])
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            clients = [SignedClient(session, p, fake.response_url()) for p in ports]
            for d in range(deals):
                await clients[d % processes].command(f"new Deal {d}", channel=f"CROOM{d}")
                await clients[d % processes].command(
                    "trio <@USELLER> <@UALLY> <@UPARTNER>", channel=f"CROOM{d}"
                )
            if floor:  # the same deals, rooms and cards, served by the floor from here on
                await asyncio.sleep(1)  # PTM's card passes after its last answers
                for i, proc in enumerate(procs):
                    await stop(proc)
                    env = ptm_env(fake, url, ports[i])
                    procs[i] = await spawn(
                        ["bench/floor.py"], env, ports[i], work / f"floor{i}.log"
                    )
            gate = asyncio.Semaphore(concurrency)

            async def send(i: int, text: str) -> int:
                async with gate:
                    status, _, _ = await clients[i % processes].command(
                        f"{text} {i}", channel=f"CROOM{i % deals}"
                    )
                    return status

            # Warm up (statement caches, connection pools, Slack clients) before measuring.
            await asyncio.gather(*(send(i, "warm up") for i in range(warmup)))
            await asyncio.sleep(1)
            before = await versions(url)
            pids = [p.pid for p in procs]
            txns0, sessions0 = await pg_counts(url)
            times0 = machine_times()
            cpu0 = (cpu_by_pid(pids), cpu_by_pid(postgres_pids()), time.process_time())
            if os.environ.get("PTM_BENCH_PROFILE"):  # py-spy record of the first process
                await asyncio.create_subprocess_exec(
                    "py-spy",
                    "record",
                    "-p",
                    str(pids[0]),
                    "-o",
                    f"{os.environ['PTM_BENCH_PROFILE']}.{processes}",
                    "-d",
                    "12",
                    "-f",
                    "raw",
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                )

            started = time.perf_counter()
            statuses = await asyncio.gather(*(send(i, "next step") for i in range(changes)))
            elapsed = time.perf_counter() - started
            cpu1 = (cpu_by_pid(pids), cpu_by_pid(postgres_pids()), time.process_time())
            times1 = machine_times()
            txns1, sessions1 = await pg_counts(url)
            expected = {d: v + changes // deals for d, v in before.items()}
            for _ in range(200):
                if await versions(url) == expected:
                    break
                await asyncio.sleep(0.1)
            after = await versions(url)
    finally:
        for proc in procs:
            await stop(proc)
        await fake.stop()
    updates = fake.count("chat.update")
    lost = sum(expected[d] - after[d] for d in expected)
    return {
        "rate": changes / elapsed,
        "elapsed": elapsed,
        "lost": lost,
        "non_200": sum(s != 200 for s in statuses),
        "ptm_cpu": spent(cpu0[0], cpu1[0]),
        "pg_cpu": spent(cpu0[1], cpu1[1]),
        "load_cpu": cpu1[2] - cpu0[2],
        "updates": updates,
        "txns": (txns1 - txns0) / changes,
        "connections": sessions1 - sessions0 - 1,  # less the one that read the counts
        **{
            name: b - a
            for name, a, b in zip(
                ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"),
                times0,
                times1,
                strict=True,
            )
        },
    }


async def run(
    url: str,
    deals: int,
    changes: int,
    concurrency: int,
    warmup: int,
    rounds: int,
    modes: tuple[bool, ...] = (False, True),
    shared: bool = False,
    floor: bool = False,
) -> None:
    print(  # noqa: T201
        f"machine: {machine()}; PostgreSQL; {changes} changes over {deals} deals after "
        f"{warmup} to warm up, {concurrency} in flight; {rounds} round(s) of 1 then 2 processes, "
        "one workspace then many"
    )
    async with unique_database(url) as own:
        await _rounds(own, deals, changes, concurrency, warmup, rounds, modes, shared, floor)


async def _rounds(
    url: str,
    deals: int,
    changes: int,
    concurrency: int,
    warmup: int,
    rounds: int,
    modes: tuple[bool, ...],
    shared: bool,
    floor: bool = False,
) -> None:
    ratios: dict[bool, list[float]] = {False: [], True: []}
    rates: dict[tuple[bool, int], list[float]] = {}
    floors: list[tuple[float, float]] = []  # PTM ÷ floor: (CPU per change, changes per second)
    for round_no in range(1, rounds + 1):
        if floor:
            base = await one_run(url, 1, deals, changes, concurrency, warmup, floor=True)
            ptm = await one_run(url, 1, deals, changes, concurrency, warmup)
            floors.append((ptm["ptm_cpu"] / base["ptm_cpu"], ptm["rate"] / base["rate"]))
            print(  # noqa: T201
                f"round {round_no}, floor (aiohttp + asyncpg, PTM's statements), 1 process: "
                f"{base['rate']:.0f} changes/s, CPU {1000 * base['ptm_cpu'] / changes:.2f} ms "
                f"per change (PostgreSQL {1000 * base['pg_cpu'] / changes:.2f}), lost updates "
                f"{base['lost']:.0f}, chat.update calls {base['updates']:.0f}; PTM beside it: "
                f"{ptm['rate']:.0f} changes/s, CPU {1000 * ptm['ptm_cpu'] / changes:.2f} ms per "
                f"change (PostgreSQL {1000 * ptm['pg_cpu'] / changes:.2f}), chat.update calls "
                f"{ptm['updates']:.0f}; PTM ÷ floor: CPU {floors[-1][0]:.2f}x, throughput "
                f"{floors[-1][1]:.2f}x"
            )
        for many in modes:
            mode = "many workspaces" if many else "one workspace"
            for processes in (1, 2):
                r = await one_run(
                    url, processes, deals, changes, concurrency, warmup, many=many, shared=shared
                )
                rates.setdefault((many, processes), []).append(r["rate"])
                print(  # noqa: T201
                    f"round {round_no}, {mode}, {processes} process(es): {r['rate']:.0f} "
                    f"changes/s ({r['elapsed']:.2f} s), lost updates {r['lost']:.0f}, non-200 "
                    f"answers {r['non_200']:.0f}; CPU ms per change: PTM "
                    f"{1000 * r['ptm_cpu'] / changes:.1f}, PostgreSQL "
                    f"{1000 * r['pg_cpu'] / changes:.1f}, load generator + fake Slack "
                    f"{1000 * r['load_cpu'] / changes:.1f}; chat.update calls {r['updates']:.0f}; "
                    f"{r['txns']:.1f} PostgreSQL transactions per change, {r['connections']:.0f} "
                    "new connections; machine CPU seconds: "
                    + ", ".join(
                        f"{k} {r[k]:.1f}" for k in ("user", "system", "softirq", "steal", "idle")
                    )
                )
            ratios[many].append(rates[(many, 2)][-1] / rates[(many, 1)][-1])
            print(f"round {round_no}, {mode}: ratio {ratios[many][-1]:.2f}x")  # noqa: T201
    for many in modes:
        mode = "many workspaces" if many else "one workspace"
        print(  # noqa: T201
            f"{mode}: median {statistics.median(rates[(many, 1)]):.0f} changes/s with 1 process, "
            f"{statistics.median(rates[(many, 2)]):.0f} with 2; ratio median "
            f"{statistics.median(ratios[many]):.2f}x (rounds: "
            f"{', '.join(f'{x:.2f}' for x in ratios[many])})"
        )
    if floors:
        print(  # noqa: T201
            f"PTM ÷ floor (medians of {len(floors)} rounds): CPU per change "
            f"{statistics.median(f[0] for f in floors):.2f}x, throughput "
            f"{statistics.median(f[1] for f in floors):.2f}x"
        )
    for processes in (1, 2) if len(modes) == 2 else ():
        one = statistics.median(rates[(False, processes)])
        many_rate = statistics.median(rates[(True, processes)])
        print(  # noqa: T201
            f"many ÷ one workspace, {processes} process(es): {many_rate / one:.2f}x (medians)"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=BENCH_POSTGRES)
    parser.add_argument("--deals", type=int, default=40)
    parser.add_argument("--changes", type=int, default=1600)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--modes", choices=["both", "one", "many", "none"], default="both")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="each round, first the floor (bench/floor.py) and PTM with one process, side by side",
    )
    parser.add_argument("--shared", action="store_true", help="deal rooms are Slack Connect")
    args = parser.parse_args()
    asyncio.run(
        run(
            args.database_url,
            args.deals,
            args.changes,
            args.concurrency,
            args.warmup,
            args.rounds,
            {"both": (False, True), "one": (False,), "many": (True,), "none": ()}[args.modes],
            args.shared,
            args.floor,
        )
    )


if __name__ == "__main__":
    main()
