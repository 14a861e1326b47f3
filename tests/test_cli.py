"""The `ptm` command line as a user meets it: version, help, database-only jobs without Slack
tokens, no noise and no progress bars where nobody watches."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.slack_api import FakeSlack
from tests.support.cli import run_ptm, run_ptm_with

HEADER_ROW = "name,industries,buyer_levels,competencies,geographies,contacts,slack_team_id\n"
CSV = (
    "name,industries,buyer_levels,competencies,geographies,contacts,slack_team_id\n"
    "Cloudy,healthcare,VP,data,EU,,\n"
)


async def test_version() -> None:
    code, out, _ = await run_ptm_with({}, "--version")
    assert code == 0 and out.startswith("ptm ") and out.strip() != "ptm"


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["partners", "import", "--help"], ["FILE", "name,industries,buyer_levels"]),
        (["partners", "export", "--help"], ["FILE"]),
        (["report", "--help"], ["--since", "--until", "--csv", "--chart"]),
        (["outbox", "--help"], ["list", "retry", "export", "FILE"]),
        (["digest", "--help"], ["--now", "--user"]),
        (["db", "--help"], ["upgrade", "status"]),
        (["serve", "--help"], ["SLACK_APP_TOKEN"]),
    ],
)
async def test_every_subcommand_explains_its_arguments(args: list[str], names: list[str]) -> None:
    code, out, _ = await run_ptm_with({}, *args)
    assert code == 0
    for name in names:
        assert name in out.replace("\n", " ").replace("  ", " ") or name in out, (name, out)


async def test_database_jobs_need_no_slack_tokens(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/ptm.db"}
    (tmp_path / "map.csv").write_text(CSV, encoding="utf-8")
    for args in (
        ["partners", "import", str(tmp_path / "map.csv")],
        ["partners", "export", str(tmp_path / "out.csv")],
        ["report"],
        ["outbox"],
        ["db", "status"],
    ):
        code, out, err = await run_ptm_with(env, *args)
        assert code == 0, (args, out, err)
        assert "SLACK_BOT_TOKEN" not in err and "Traceback" not in err
        # No progress bar when nobody watches (stderr is a pipe here), and no Bolt noise.
        assert "[#" not in err and "will be unused" not in err, (args, err)
    assert "Cloudy" in (tmp_path / "out.csv").read_text(encoding="utf-8")


async def test_jobs_with_slack_settings_print_no_bolt_warning(
    fake_slack: FakeSlack, sqlite_url: str
) -> None:
    code, _out, err = await run_ptm(fake_slack, sqlite_url, "digest", "--now")
    assert code == 0 and "will be unused" not in err, err


def test_progress_shows_on_a_terminal(tmp_path: Path) -> None:
    """The import's progress bar is drawn when stderr is a terminal (a pseudo-terminal here)."""
    import os
    import pty
    import subprocess

    from tests.support.cli import PTM, ROOT, clean_env, read_terminal

    (tmp_path / "map.csv").write_text(CSV, encoding="utf-8")
    env = {**clean_env(), "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/ptm.db"}
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [*PTM, "partners", "import", str(tmp_path / "map.csv")],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=follower,
            timeout=60,
            check=False,
        )
        os.close(follower)
        drawn = read_terminal(leader)
    finally:
        os.close(leader)
    assert done.returncode == 0
    assert b"[##############################] 1/1" in drawn


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ((HEADER_ROW + "Café Süd,retail,VP,data,EU,,\n").encode("latin-1"), "is not UTF-8"),
        ((HEADER_ROW + "“Smart” Co,retail,VP,data,EU,,\n").encode("cp1252"), "line 2 is not UTF-8"),
        (b"\x1f\x8b\x08\x00" + bytes(range(256)), "gzip file; unpack it"),
        (b"PK\x03\x04" + bytes(200), "zip file"),
        (bytes(range(256)) * 4, "not UTF-8"),
        (b"\x00" * 600, "binary file"),
    ],
)
async def test_a_file_that_is_not_utf8_csv_is_one_line(
    tmp_path: Path, content: bytes, says: str
) -> None:
    path = tmp_path / "map.csv"
    path.write_bytes(content)
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/ptm.db"}
    code, out, err = await run_ptm_with(env, "partners", "import", str(path))
    assert code == 2 and says in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


async def test_utf16_and_enormous_cells(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/ptm.db"}
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes((HEADER_ROW + "Café Süd,retail,VP,data,EU,,\n").encode("utf-16"))
    code, out, err = await run_ptm_with(env, "partners", "import", str(utf16))
    assert code == 0 and "partners added: 1" in out, err
    huge = tmp_path / "huge.csv"
    huge.write_text(
        HEADER_ROW
        + "Good One,retail,VP,data,EU,,\n"
        + f"Huge,{'x' * 200_000},VP,data,EU,,\n"
        + "Good Two,retail,VP,data,EU,,\n",
        encoding="utf-8",
    )
    code, out, err = await run_ptm_with(env, "partners", "import", str(huge))
    assert code == 1 and "Traceback" not in err, err
    assert "partners added: 2" in out and "line 3:" in out
