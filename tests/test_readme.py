"""The README a newcomer reads first: two commands that set up a fresh machine, nothing that
points outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_it_starts_with_the_two_commands_in_a_virtual_environment() -> None:
    first_block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert first_block and README.index("```sh") < README.index("\n## ")
    run, test = first_block.group(1).strip().splitlines()
    for command in (run, test):
        assert command.startswith("python3 -m venv .venv && . .venv/bin/activate && pip install")
    assert run.endswith("python app.py") and test.endswith("&& pytest")
    assert "Python 3.11" in README


def test_it_links_nothing_outside_the_repository() -> None:
    assert not re.search(r"\.\./|shared/PRODUCT", README)


def test_it_says_how_to_run_from_a_laptop() -> None:
    assert "Socket Mode" in README and "manifest.socket.yml" in README
    assert "tunnel" in README
