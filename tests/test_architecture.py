"""Import boundaries of the design card, as folder rules: a new file inherits its folder's rule.

Each rule names what a folder's modules may import from this project and which outside
libraries are off limits; the standard library is always allowed.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIRST_PARTY = ("bot", "handlers", "blocks", "store", "briefs")
SLACK = ("slack_bolt", "slack_sdk", "aiohttp")
DATABASE = ("sqlalchemy", "sqlmodel", "aiosqlite", "asyncpg", "alembic")


@dataclass(frozen=True)
class Rule:
    """`may`: the project packages (dotted prefixes) this folder may import; `outside`: None
    for any outside library, or the only ones allowed (a tuple)."""

    may: tuple[str, ...]
    outside: tuple[str, ...] | None = None
    never_outside: tuple[str, ...] = ()


ANY_PROJECT = FIRST_PARTY
RULES: dict[str, Rule] = {
    # The domain: pure rules and types, the standard library and itself only.
    "bot/domain/": Rule(may=("bot.domain",), outside=()),
    # View models: plain data built from the domain.
    "bot/views/": Rule(may=("bot.domain", "bot.views"), outside=()),
    # Use cases: the domain, view models and storage; never Slack or the listeners.
    "bot/services/": Rule(may=("bot.domain", "bot.views", "bot.services", "store"), outside=()),
    # Storage: database libraries and the domain.
    "store/": Rule(may=("store", "bot.domain"), outside=DATABASE),
    # Rendering: the domain and view models, and their own libraries.
    "blocks/": Rule(may=("blocks", "bot.domain", "bot.views"), never_outside=DATABASE + SLACK),
    "briefs/": Rule(may=("briefs", "bot.domain", "bot.views"), never_outside=DATABASE + SLACK),
    # Adapters to the outside world: never the use cases, storage, rendering, listeners or app.
    "bot/adapters/": Rule(may=("bot.adapters", "bot.domain", "bot.views")),
    # Listeners: everything but storage and the database.
    "handlers/": Rule(
        may=("handlers", "bot", "blocks", "briefs"), never_outside=DATABASE + ("store",)
    ),
    # Composition and runtime: everything (only the factory may import the listeners, below).
    "bot/app/": Rule(may=("bot", "store", "blocks", "briefs", "handlers")),
    # The demo's Slack and its runner: the app as `ptm serve` builds it, never the listeners.
    "bot/demo/": Rule(may=("bot", "store")),
    # Block Kit as HTML: a pure function of the blocks, the standard library only.
    "bot/demo/render.py": Rule(may=(), outside=()),
}
HANDLER_IMPORTERS = {"bot/app/factory.py"}


def imports_of(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            if node.module in FIRST_PARTY or node.module in ("bot",):
                # `from bot import services` imports the module bot.services
                names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def rule_for(module: str) -> Rule | None:
    matches = [folder for folder in RULES if module.startswith(folder)]
    return RULES[max(matches, key=len)] if matches else None


def violations(module: str, source: str) -> list[str]:
    """What `module` (a path from the root) imports against its folder's rule."""
    rule = rule_for(module)
    found = imports_of(source)
    bad: list[str] = []
    if "handlers" in {n.split(".")[0] for n in found} and not module.startswith("handlers/"):
        if module not in HANDLER_IMPORTERS:
            bad.append("handlers (only the app factory imports the listeners)")
    if rule is None:
        return bad
    for name in sorted(found):
        top = name.split(".")[0]
        if top in FIRST_PARTY:
            if name == "bot" or name.startswith("bot.__"):
                continue
            if not any(name == p or name.startswith(p + ".") for p in rule.may):
                bad.append(name)
        elif top in sys.stdlib_module_names or top == "__future__":
            continue
        elif rule.outside is not None and top not in rule.outside:
            bad.append(name)
        elif top in rule.never_outside:
            bad.append(name)
    return bad


def modules() -> list[str]:
    return sorted(
        str(p.relative_to(ROOT))
        for pkg in FIRST_PARTY
        for p in (ROOT / pkg).rglob("*.py")
        if "migrations" not in p.parts
    )


@pytest.mark.parametrize("module", modules())
def test_import_boundaries(module: str) -> None:
    bad = violations(module, (ROOT / module).read_text())
    assert not bad, f"{module} may not import {bad}"


def test_every_module_has_a_rule() -> None:
    unruled = [m for m in modules() if rule_for(m) is None and m != "bot/__init__.py"]
    assert not unruled, f"no import rule covers {unruled}: add its folder to RULES"


@pytest.mark.parametrize(
    ("module", "line"),
    [
        ("bot/domain/new_rule.py", "import sqlalchemy"),
        ("bot/domain/new_rule.py", "from bot.views.models import CardView"),
        ("bot/views/new_view.py", "from store.deals import DealRepository"),
        ("bot/services/new_case.py", "from slack_sdk.errors import SlackApiError"),
        ("bot/services/new_case.py", "from blocks.card import build_deal_card"),
        ("store/new_table.py", "from bot.services import Ctx"),
        ("store/new_table.py", "import aiohttp"),
        ("blocks/new_block.py", "from store.models import DealRow"),
        ("briefs/new_brief.py", "import slack_bolt"),
        ("bot/adapters/new_crm.py", "from bot.app.config import Settings"),
        ("bot/adapters/new_crm.py", "from bot.services import Ctx"),
        ("handlers/new_listener.py", "from store.uow import UnitOfWork"),
        ("handlers/new_listener.py", "import sqlalchemy as sa"),
        ("bot/app/scheduling.py", "from handlers.events import replay_stalled_mentions"),
    ],
)
def test_a_forbidden_import_in_a_new_file_is_caught(tmp_path: Path, module: str, line: str) -> None:
    """Plant the import in a file of that folder: the folder's rule catches it."""
    planted = tmp_path / module
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_text(f'"""A new module."""\n\n{line}\n')
    assert violations(module, planted.read_text()), f"{line!r} in {module} went unnoticed"


def test_allowed_imports_pass() -> None:
    assert not violations("bot/domain/x.py", "import re\nfrom bot.domain.model import Deal\n")
    assert not violations("bot/services/x.py", "from store import UnitOfWork\n")
    assert not violations("handlers/x.py", "from bot import services\nimport slack_bolt\n")


# A CRM is one module in bot/adapters/crm/ plus its line in KINDS (and NOTIFICATIONS): nothing
# else names a CRM kind's module or a kind other than the webhook, so a third CRM touches no
# listener, no card or App Home code and no outbox logic.
CRM_KIND_MODULES = ("bot.adapters.crm.salesforce", "bot.adapters.crm.hubspot")
KIND_BLIND = ("handlers/", "blocks/", "store/", "bot/services/", "bot/views/", "bot/app/")


def test_no_listener_card_or_outbox_code_knows_a_crm_kind() -> None:
    knowing: list[str] = []
    for module in modules():
        source = (ROOT / module).read_text()
        if not module.startswith(KIND_BLIND) or module == "bot/app/config.py":
            continue  # config reads the environment's PTM_CRM_*_KIND as text
        imported = imports_of(source)
        names = {
            node.attr for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Attribute)
        }
        if imported & set(CRM_KIND_MODULES) or names & {"SALESFORCE", "HUBSPOT"}:
            knowing.append(module)
    assert knowing == [], knowing
