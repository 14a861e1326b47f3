"""`ptm demo --seed`: a capability map and a few deals at different stages, made the way people
make them — the map through `ptm partners import`'s own service, every deal through signed
`/ptm` commands and `@PTM` messages from the demo's people — so that `/ptm find healthcare VP
data`, `/ptm digest` and `/ptm metrics` show something real from the first minute.
"""

from __future__ import annotations

from datetime import timedelta

from bot import services
from bot.app.deps import Deps
from bot.demo.simulator import Simulator
from bot.domain.capability import CSV_HEADER

PARTNERS = (
    # name, industries, buyer levels, competencies, geographies, contacts, Slack team
    (
        "Northwind Cloud",
        "healthcare;life sciences;retail",
        "VP;C-level",
        "data;analytics;cloud migration",
        "US;EMEA",
        "pat@northwind.example",
        "T0NORTHWIND",
    ),
    (
        "Contoso Data",
        "healthcare;financial services",
        "VP;Director",
        "data;machine learning",
        "US",
        "sales@contoso.example",
        "",
    ),
    (
        "Fabrikam Consulting",
        "manufacturing;retail",
        "C-level",
        "ERP;change management",
        "EMEA;APAC",
        "hello@fabrikam.example",
        "",
    ),
    (
        "Tailspin Security",
        "financial services;public sector",
        "CISO;VP",
        "security;compliance",
        "US;EMEA",
        "team@tailspin.example",
        "",
    ),
    (
        "Woodgrove Analytics",
        "retail;consumer goods",
        "Director;Manager",
        "analytics;BI",
        "US",
        "info@woodgrove.example",
        "",
    ),
    (
        "Adatum Health Systems",
        "healthcare",
        "C-level;VP",
        "EHR integration;interoperability",
        "US",
        "partners@adatum.example",
        "",
    ),
    (
        "Litware Cloud",
        "software;media",
        "VP;Director",
        "cloud migration;DevOps",
        "Global",
        "alliances@litware.example",
        "",
    ),
    (
        "Proseware Labs",
        "life sciences;healthcare",
        "Director",
        "data;genomics",
        "EMEA",
        "labs@proseware.example",
        "",
    ),
)
CAPABILITY_MAP = "\n".join([",".join(CSV_HEADER), *(",".join(row) for row in PARTNERS)]) + "\n"

# (who, where, what they type, and the form they fill when it opens one); "@PTM …" lines are
# messages, the rest commands. Dates in forms are relative to today (days from now).
Step = tuple[str, str, str, dict[str, str | int] | None]
SCRIPT: tuple[Step, ...] = (
    # PTM-1: the Slack Connect deal room with Northwind, a live co-sell.
    (
        "USAM",
        "CROOM",
        "/ptm new",
        {
            "name": "Acme Health data platform",
            "account": "Acme Health",
            "amount": "250000",
            "currency": "USD",
            "close_date": 60,
            "trigger": "Acme asked for a HIPAA-ready data lake on Northwind's cloud",
            "stage": "Discover",
        },
    ),
    ("USAM", "CROOM", "/ptm trio @sam @alex @pat", None),
    ("USAM", "CROOM", "/ptm stage Validate", None),
    ("USAM", "CROOM", "/ptm attribution co-sell", None),
    ("UPAT", "CROOM", "@PTM next: send the security questionnaire by tomorrow", None),
    ("UALEX", "CROOM", "/ptm log Joint discovery call held with Acme's CIO", None),
    # PTM-2: an internal deal waiting on the seller, due today.
    (
        "USAM",
        "CSALES",
        "/ptm new",
        {
            "name": "Globex analytics renewal",
            "account": "Globex",
            "amount": "120000",
            "currency": "USD",
            "close_date": 30,
            "stage": "Propose",
        },
    ),
    ("USAM", "CSALES", "/ptm trio PTM-2 @sam @alex @pat", None),
    ("USAM", "CSALES", "/ptm next PTM-2 Send the revised pricing for @sam by today", None),
    # PTM-3: won together.
    (
        "UALEX",
        "CSALES",
        "/ptm new",
        {
            "name": "Initech cloud migration",
            "account": "Initech",
            "amount": "90000",
            "currency": "EUR",
            "close_date": 7,
            "stage": "Negotiate",
        },
    ),
    ("UALEX", "CSALES", "/ptm trio PTM-3 @sam @alex @pat", None),
    ("UALEX", "CSALES", "/ptm attribution PTM-3 sourced", None),
    ("USAM", "CSALES", "/ptm won PTM-3", None),
)


async def seed(sim: Simulator, deps: Deps) -> int:
    """Load the map, then play the script; the number of steps played."""
    report = await services.import_partners(deps.ctx, CAPABILITY_MAP)
    assert not report.rejected, report.rejected  # the map above is ours: a bad row is a bug
    today = deps.ctx.now().date()
    played = 0
    for who, where, text, form in SCRIPT:
        await sim.say(who, where, text)
        await sim.settle()
        if form is not None:
            modal = sim.world.top_modal(who)
            if modal is None:
                raise RuntimeError(f"{text!r} opened no form: the demo script is out of date")
            values = {
                k: (today + timedelta(days=v)).isoformat() if isinstance(v, int) else v
                for k, v in form.items()
            }
            await sim.submit(who, modal.id, values)
            await sim.settle()
        played += 1
    return played
