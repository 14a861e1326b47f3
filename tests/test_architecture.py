"""Import boundaries of the design card, checked by walking every module's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SLACK = ("slack_bolt", "slack_sdk", "aiohttp")
DB = ("store", "sqlmodel", "sqlalchemy", "aiosqlite", "asyncpg")
STDLIB_ONLY = {
    "bot/domain/model.py",
    "bot/domain/digest.py",
    "bot/domain/capability.py",
    "bot/domain/outbox.py",
    "bot/app/activity.py",
    "bot/domain/inputs.py",
    "bot/domain/rules.py",
    "bot/views/models.py",
    "bot/domain/intents.py",
    "bot/views/deal_views.py",
    "bot/domain/forms.py",
    "bot/domain/metrics.py",
    "bot/views/report.py",
}
RULES: dict[str, tuple[str, ...]] = {
    "blocks/": DB + ("slack_bolt", "aiohttp", "handlers", "bot.services", "bot.adapters.slack"),
    "briefs/": DB + SLACK + ("handlers",),
    "handlers/": DB,
    "bot/services/": SLACK + ("handlers", "blocks"),
}


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules() -> list[str]:
    return sorted(
        str(p.relative_to(ROOT))
        for pkg in ("bot", "handlers", "blocks", "store", "briefs")
        for p in (ROOT / pkg).rglob("*.py")
    )


def first_party(name: str) -> bool:
    return name.split(".")[0] in {"bot", "handlers", "blocks", "store", "briefs"}


@pytest.mark.parametrize("module", modules())
def test_import_boundaries(module: str) -> None:
    found = imports_of(ROOT / module)
    if module in STDLIB_ONLY:
        third_party = {
            n
            for n in found
            if not first_party(n) and n.split(".")[0] not in __import__("sys").stdlib_module_names
        }
        assert not third_party, f"{module} must use only the standard library: {third_party}"
        impure = {
            n for n in found if first_party(n) and n.replace(".", "/") + ".py" not in STDLIB_ONLY
        }
        assert not impure, f"{module} is pure and may import only pure modules: {impure}"
    for prefix, banned in RULES.items():
        if module.startswith(prefix):
            bad = {
                n
                for n in found
                if n.split(".")[0] in banned
                or n in banned
                or any(n.startswith(b + ".") for b in banned)
            }
            assert not bad, f"{module} may not import {bad}"


def test_pure_modules_exist() -> None:
    assert all((ROOT / m).exists() for m in STDLIB_ONLY)
