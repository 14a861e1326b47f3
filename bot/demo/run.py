"""`ptm demo`: the demo's Slack and PTM, unchanged, in one process.

PTM is built exactly as `ptm serve` builds it (bot.app.serving), on a SQLite file, serving
`POST /slack/events` on a local port of its own; the demo's Slack serves the page and the Web
API, signs every request it sends to PTM with a secret made for this run, and accepts only the
bot token made for this run. No Slack account, app or token is needed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from bot.adapters.server import EVENTS_PATH, make_web_app
from bot.app.config import Settings, load_settings
from bot.app.crm_inbound import candidates_of, crm_inbound
from bot.app.factory import Runtime
from bot.app.scheduling import Background, start_background
from bot.app.serving import StartupError, start_runtime
from bot.demo import seed as seeding
from bot.demo.simulator import Simulator
from bot.demo.world import LUMEN, World, demo_channels, demo_people
from store.schema import SchemaBehind

log = logging.getLogger("ptm.demo")

# Settings of the operator's own environment that make sense for the demo too.
PASSED_THROUGH = ("PTM_DIGEST_HOUR", "PTM_LOG_LEVEL")


@dataclass
class Demo:
    sim: Simulator
    runtime: Runtime
    runner: web.AppRunner
    background: Background
    database: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sim.port}/"

    async def stop(self) -> None:
        await self.runner.cleanup()
        await self.background.stop(grace=5)
        # The work PTM does after its answers (card passes, Home tabs) ends with calls to the
        # demo's Slack: once those have stopped, it is done. (Waiting for every task, as `ptm
        # serve` does, would wait on the page's own kept-alive connections.)
        await self.sim.settle(quiet=0.2, limit=5)
        await self.background.release_claims()
        await self.runtime.close()
        await self.sim.stop()


def demo_settings(sim: Simulator, database: Path, env: Mapping[str, str]) -> Settings:
    """PTM's settings for the demo: this run's token and secret, the demo's Slack as the Web
    API, the alliance manager as PTM admin."""
    return load_settings(
        {
            **{k: env[k] for k in PASSED_THROUGH if k in env},
            "SLACK_BOT_TOKEN": sim.token,
            "SLACK_SIGNING_SECRET": sim.secret,
            "SLACK_API_URL": sim.api_url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{database}",
            "PTM_ADMINS": "UALEX",
        }
    )


async def start_demo(
    *,
    port: int = 3000,
    database: Path | None = None,
    seed: bool = False,
    env: Mapping[str, str] | None = None,
) -> Demo:
    """Start the demo's Slack on `port` (0: any free port) and PTM beside it."""
    world = World(demo_people(), demo_channels(demo_people()), home=LUMEN)
    sim = Simulator(world, token=f"xoxb-demo-{secrets.token_hex(8)}", secret=secrets.token_hex(16))
    await sim.start("127.0.0.1", port)
    if database is None:
        database = Path(tempfile.mkdtemp(prefix="ptm-demo-")) / "ptm-demo.db"
    fresh = not database.exists()
    try:
        runtime = await start_runtime(demo_settings(sim, database, env or os.environ))
    except BaseException:
        await sim.stop()
        raise
    crm = crm_inbound(candidates_of(runtime.deps, runtime.tenants))
    app = make_web_app(runtime.app, runtime.engine, signing_secret=sim.secret, crm=crm)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    bot_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    sim.bot_url = f"http://127.0.0.1:{bot_port}{EVENTS_PATH}"
    background = start_background(runtime.deps, tenants=runtime.tenants)
    demo = Demo(sim, runtime, runner, background, database)
    if seed:
        if fresh:
            assert runtime.deps is not None  # the demo is one workspace
            await seeding.seed(sim, runtime.deps)
        else:
            log.warning("%s already holds a demo: --seed is only for a new database", database)
    return demo


async def serve_demo(port: int, database: Path | None, seed: bool) -> None:
    # Ctrl-C while seeding ends the demo once the seed is in, not with a traceback.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    demo = await start_demo(port=port, database=database, seed=seed)
    print(  # the one line a newcomer needs
        f"PTM demo: open {demo.url} (database {demo.database}); Ctrl-C stops it.", flush=True
    )
    try:
        await stop.wait()
    finally:
        await demo.stop()


def run_demo(port: int, database: str | None, seed: bool) -> int:
    logging.basicConfig(
        level=os.environ.get("PTM_LOG_LEVEL", "WARNING"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        asyncio.run(serve_demo(port, Path(database) if database else None, seed))
    except OSError as err:
        print(
            f"ptm demo: cannot listen on port {port} ({err.strerror}): use --port", file=sys.stderr
        )
        return 2
    except (StartupError, SchemaBehind) as err:
        print(f"ptm demo: {err}", file=sys.stderr)
        return 2
    return 0
