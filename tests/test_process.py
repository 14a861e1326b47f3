"""`python app.py` as a real process: HTTP in, fake Slack out, restart, clean shutdown."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.fakes.slack_api import FakeSlack
from tests.support.cards import card_stage
from tests.support.cli import run_ptm, start_ptm
from tests.support.harness import env_for
from tests.support.slack_requests import Inbound

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start_process(env: dict[str, str]) -> asyncio.subprocess.Process:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PTM_", "DATABASE_"))
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "app.py",
        cwd=ROOT,
        env={**clean, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def wait_healthy(port: int, proc: asyncio.subprocess.Process) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            if proc.returncode is not None:
                raise AssertionError(f"bot exited: {(await proc.stderr.read()).decode()}")  # type: ignore[union-attr]
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("bot did not become healthy")


async def stop(proc: asyncio.subprocess.Process) -> int:
    proc.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(proc.wait(), 15)


@pytest.fixture
async def running(
    fake_slack: FakeSlack, tmp_path: Path
) -> AsyncIterator[tuple[dict[str, str], Inbound]]:
    port = free_port()
    env = env_for(fake_slack, f"sqlite+aiosqlite:///{tmp_path}/ptm.db", PORT=str(port))
    yield (
        env,
        Inbound(f"http://127.0.0.1:{port}/slack/events", response_url=fake_slack.response_url()),
    )


async def test_real_process_serves_commands_and_survives_restart(
    running: tuple[dict[str, str], Inbound], fake_slack: FakeSlack
) -> None:
    env, slack = running
    port = int(env["PORT"])
    proc = await start_process(env)
    try:
        await wait_healthy(port, proc)
        status, body = await slack.command("new Acme expansion")
        assert status == 200 and "Created PTM-1" in body["text"]
        # The card is posted after the ack: wait for it to reach the fake Slack.
        for _ in range(100):
            if fake_slack.count("chat.postMessage"):
                break
            await asyncio.sleep(0.02)
        [posted] = fake_slack.of("chat.postMessage")
        status, _ = await slack.command("new forged", signature="v0=" + "0" * 64)
        assert status == 401
    finally:
        assert await stop(proc) == 0

    proc = await start_process(env)
    try:
        await wait_healthy(port, proc)
        status, body = await slack.command("stage validate")
        assert "moved to *Validate*" in body["text"]
        for _ in range(100):
            if fake_slack.count("chat.update"):
                break
            await asyncio.sleep(0.02)
        assert fake_slack.count("chat.update") == 1, [c.method for c in fake_slack.calls]
        [update] = fake_slack.of("chat.update")
        ts = next(ts for (ch, ts) in fake_slack.messages if ch == posted["channel"])
        assert (
            update["ts"] == ts
            and card_stage(fake_slack.message(posted["channel"], ts)) == "Validate"
        )
    finally:
        assert await stop(proc) == 0
    # Served on uvloop where it is installed (the project installs it except on Windows).
    log = (await proc.stderr.read()).decode()  # type: ignore[union-attr]
    loop = "uvloop" if sys.platform != "win32" else "asyncio"
    assert f"PTM listening on port {port} (POST /slack/events, GET /healthz), {loop} event" in log
    assert "will be unused" not in log  # Bolt's warning about the token we hand it as a client


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "PORT": "eighty"}, "PORT"),
        # The trap Bolt sets on its own: a client id beside a bot token.
        (
            {
                "SLACK_BOT_TOKEN": "xoxb-1",
                "SLACK_SIGNING_SECRET": "s",
                "SLACK_CLIENT_ID": "1.2",
                "SLACK_CLIENT_SECRET": "c",
            },
            "SLACK_BOT_TOKEN and SLACK_CLIENT_ID",
        ),
        (
            {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "c", "SLACK_SIGNING_SECRET": "s"},
            "PTM_SECRET_KEY",
        ),
    ],
)
async def test_bad_configuration_stops_with_one_line(env: dict[str, str], variable: str) -> None:
    proc = await start_process(env)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    lines = err.decode().strip().splitlines()
    assert proc.returncode == 2
    assert len(lines) == 1 and variable in lines[0] and "Traceback" not in err.decode()


async def test_socket_mode_when_app_token_is_set(fake_slack: FakeSlack, tmp_path: Path) -> None:
    env = env_for(fake_slack, f"sqlite+aiosqlite:///{tmp_path}/ptm.db", SLACK_APP_TOKEN="xapp-1")
    del env["SLACK_SIGNING_SECRET"]  # not needed in Socket Mode
    proc = await start_process(env)
    try:
        command = {
            "team_id": "T0URS",
            "channel_id": "CROOM",
            "user_id": "USELLER",
            "command": "/ptm",
            "text": "new Socket deal",
            "response_url": fake_slack.response_url(),
            "trigger_id": "t-1",
            "api_app_id": "APTM",
        }
        await fake_slack.socket_send(
            {
                "envelope_id": "env-1",
                "type": "slash_commands",
                "payload": command,
                "accepts_response_payload": True,
            }
        )
        for _ in range(200):
            if fake_slack.socket_acks and fake_slack.count("chat.postMessage"):
                break
            await asyncio.sleep(0.05)
        [ack] = fake_slack.socket_acks
        assert ack["envelope_id"] == "env-1" and "Created PTM-1" in ack["payload"]["text"]
        assert fake_slack.of("chat.postMessage")[0]["channel"] == "CROOM"
        assert fake_slack.count("apps.connections.open") == 1
    finally:
        assert await stop(proc) == 0


async def test_ptm_digest_now_from_the_command_line(fake_slack: FakeSlack, tmp_path: Path) -> None:
    from tests.support.harness import start_bot

    db = f"sqlite+aiosqlite:///{tmp_path}/ptm.db"
    bot = await start_bot(fake_slack, db)
    await bot.slack.command("new Acme expansion")
    await bot.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>")
    await bot.slack.command("next send the pricing for <@USELLER>")
    await bot.stop()
    for _ in range(2):  # the second run finds today's digest already sent
        code, out, err = await run_ptm(fake_slack, db, "digest", "--now", "--user", "USELLER")
        assert code == 0, err
    assert "digests sent: 0" in out
    dms = [p for p in fake_slack.of("chat.postMessage") if p["channel"] == "USELLER"]
    assert len(dms) == 1 and "send the pricing" in str(dms[0]["blocks"])
    assert not [p for p in fake_slack.of("chat.postMessage") if p["channel"] == "UALLY"]


@pytest.mark.skipif(not os.environ.get("PTM_TEST_DATABASE_URL"), reason="needs PostgreSQL")
async def test_two_processes_sending_digests_at_once_send_one_each(fake_slack: FakeSlack) -> None:
    from tests.conftest import PG_URL, fresh_postgres
    from tests.support.harness import start_bot

    assert PG_URL
    await fresh_postgres(PG_URL)
    bot = await start_bot(fake_slack, PG_URL)
    await bot.slack.command("new Acme expansion")
    await bot.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>")
    await bot.slack.command("next send the pricing for <@USELLER>")
    await bot.stop()
    procs = [await start_ptm(fake_slack, PG_URL, "digest", "--now") for _ in range(3)]
    outs = [await asyncio.wait_for(p.communicate(), 60) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e.decode() for _, e in outs]
    for user in ("USELLER", "UALLY"):
        assert len([k for k in fake_slack.messages if k[0] == user]) == 1
    assert not [k for k in fake_slack.messages if k[0] == "UPARTNER"]


async def _one_line_exit(env: dict[str, str]) -> str:
    proc = await start_process(env)
    _out, err = await asyncio.wait_for(proc.communicate(), 60)
    text = err.decode()
    # Informational log lines may come first; what counts is errors and the final line.
    logged = re.compile(r"\d{4}-\d\d-\d\d [\d:,]+ (INFO|WARNING) ")
    lines = [line for line in text.strip().splitlines() if not logged.match(line)]
    assert proc.returncode == 2, text
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


async def test_start_up_failures_are_one_line(fake_slack: FakeSlack, tmp_path: Path) -> None:
    def env(**extra: str) -> dict[str, str]:
        return env_for(
            fake_slack, f"sqlite+aiosqlite:///{tmp_path}/ptm.db", PORT=str(free_port()), **extra
        )

    line = await _one_line_exit(env(DATABASE_URL="sqlite+aiosqlite:////no/such/dir/ptm.db"))
    assert "cannot use the database sqlite+aiosqlite:////no/such/dir/ptm.db" in line
    unreachable = "postgresql://postgres:secret@127.0.0.1:1/test"  # the plain form is accepted
    line = await _one_line_exit(env(DATABASE_URL=unreachable))
    assert "cannot use the database postgresql+asyncpg://postgres:***@127.0.0.1:1/test" in line
    if os.environ.get("PTM_TEST_DATABASE_URL"):
        line = await _one_line_exit(
            env(DATABASE_URL="postgresql://postgres@127.0.0.1:5432/ptm_no_such_database")
        )
        assert "ptm_no_such_database" in line and "does not exist" in line
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = await _one_line_exit({**env(), "PORT": str(port)})
    assert f"cannot listen on port {port}" in line


async def test_a_wrong_bot_token_is_found_at_start(fake_slack: FakeSlack, tmp_path: Path) -> None:
    from tests.fakes.slack_api import Fault

    fake_slack.fail("auth.test", Fault(error="invalid_auth"))
    env = env_for(fake_slack, f"sqlite+aiosqlite:///{tmp_path}/ptm.db", PORT=str(free_port()))
    line = await _one_line_exit(env)
    assert "Slack refused SLACK_BOT_TOKEN (invalid_auth)" in line


async def test_socket_mode_with_a_refused_app_token_is_one_line(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    from tests.fakes.slack_api import Fault

    fake_slack.fail("apps.connections.open", Fault(error="invalid_auth"))
    env = env_for(fake_slack, f"sqlite+aiosqlite:///{tmp_path}/ptm.db", SLACK_APP_TOKEN="xapp-1")
    line = await _one_line_exit(env)
    assert "Slack refused SLACK_APP_TOKEN (invalid_auth)" in line


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_socket_mode_without_slack_retries_quietly_and_stops_on_a_signal(
    tmp_path: Path, sig: signal.Signals
) -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_APP_TOKEN": "xapp-1",
        "SLACK_API_URL": f"http://127.0.0.1:{free_port()}/api/",  # nothing listens there
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/ptm.db",
    }
    proc = await start_process(env)
    assert proc.stderr is not None
    seen = ""
    while "next try in" not in seen:  # it retries, one line a try...
        line = await asyncio.wait_for(proc.stderr.readline(), 30)
        assert line, f"the bot exited: {seen}"
        seen += line.decode()
    proc.send_signal(sig)  # ...and a signal ends it at once
    code = await asyncio.wait_for(proc.wait(), 10)
    err = seen + (await proc.stderr.read()).decode()
    assert code == 0, err
    assert "Traceback" not in err and "cannot reach Slack for Socket Mode" in err


async def test_mentions_acked_before_a_crash_are_applied_and_answered_after_it(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """SIGKILL in the middle of a burst of @PTM mentions that Slack saw acknowledged (and so
    will not re-deliver): after a restart every one of them is applied once and answered."""
    from tests.fakes.slack_api import BOT_USER

    port = free_port()
    env = env_for(fake_slack, f"sqlite+aiosqlite:///{tmp_path}/ptm.db", PORT=str(port))
    slack = Inbound(f"http://127.0.0.1:{port}/slack/events", response_url=fake_slack.response_url())
    proc = await start_process(env)
    await wait_healthy(port, proc)
    await slack.command("new Acme expansion")
    count = 40

    def mention(n: int) -> dict[str, object]:
        return {
            "type": "app_mention",
            "channel": "CROOM",
            "user": "USELLER",
            "text": f"<@{BOT_USER}> next: step {n}",
            "ts": f"1800000000.{n:06d}",
            "user_team": "T0URS",
        }

    answers = await asyncio.gather(
        *(slack.event(mention(n), event_id=f"Ev{n}") for n in range(count))
    )
    proc.kill()  # every event was acked: Slack considers them delivered
    await proc.wait()
    assert all(status == 200 for status, _ in answers)

    proc = await start_process(env)
    try:
        await wait_healthy(port, proc)

        def answered() -> set[str]:
            return {
                str(p["thread_ts"])
                for p in fake_slack.of("chat.postMessage")
                if p.get("thread_ts", "").startswith("1800000000.")
            }

        for _ in range(600):  # a dead process's leases lapse after 15 s
            if len(answered()) == count:
                break
            await asyncio.sleep(0.1)
        assert answered() == {f"1800000000.{n:06d}" for n in range(count)}
    finally:
        assert await stop(proc) == 0
    import sqlite3

    with sqlite3.connect(tmp_path / "ptm.db") as db:
        texts = [t for (t,) in db.execute("SELECT text FROM next_steps")]
        pending = db.execute("SELECT count(*) FROM processed_events WHERE NOT done").fetchone()
    assert sorted(texts) == sorted(f"step {n}" for n in range(count))  # each applied once
    assert pending == (0,)


async def test_ptm_digest_shows_progress_on_a_terminal_only(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    import pty

    from tests.support.cli import PTM, clean_env, read_terminal
    from tests.support.harness import start_bot

    db = f"sqlite+aiosqlite:///{tmp_path}/ptm.db"
    bot = await start_bot(fake_slack, db)
    await bot.slack.command("new Acme expansion")
    await bot.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>")
    await bot.slack.command("next send the pricing for <@USELLER>")
    await bot.stop()
    leader, follower = pty.openpty()
    try:
        proc = await asyncio.create_subprocess_exec(
            *PTM,
            "digest",
            "--now",
            cwd=ROOT,
            env={**clean_env(), **env_for(fake_slack, db)},
            stdout=asyncio.subprocess.PIPE,
            stderr=follower,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
        os.close(follower)
        drawn = read_terminal(leader)
    finally:
        os.close(leader)
    assert proc.returncode == 0, out
    assert b"\rdigests sent: 1" in drawn and b"\rdigests sent: 2" in drawn  # the running count
    assert "digests sent: 2" in out.decode()  # the summary, on stdout (seller and alliance)
