"""Run the `ptm` command line as a real process against the fake Slack and a test database."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.fakes.slack_api import FakeSlack
from tests.support.harness import env_for

ROOT = Path(__file__).resolve().parent.parent.parent
PTM = [sys.executable, "-c", "from bot.app.cli import main; raise SystemExit(main())"]


def clean_env() -> dict[str, str]:
    """This machine's environment without any PTM or Slack setting of its own."""
    return {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PTM_", "DATABASE_"))
    }


async def start_ptm(
    fake: FakeSlack, db_url: str, *args: str, **env: str
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *PTM,
        *args,
        cwd=ROOT,
        env={**clean_env(), **env_for(fake, db_url, **env)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def run_ptm(fake: FakeSlack, db_url: str, *args: str, **env: str) -> tuple[int, str, str]:
    proc = await start_ptm(fake, db_url, *args, **env)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def run_ptm_with(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """`ptm ARGS` with exactly `env` on top of this machine's own environment."""
    proc = await asyncio.create_subprocess_exec(
        *PTM,
        *args,
        cwd=ROOT,
        env={**clean_env(), **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


def read_terminal(leader: int) -> bytes:
    """All a finished process wrote to a pseudo-terminal (its follower side already closed)."""
    drawn = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the follower side is gone and everything was read
            return drawn
        if not chunk:
            return drawn
        drawn += chunk
