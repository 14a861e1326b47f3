"""The partner capability map: CSV rows in and out, and ranking partners for a need. Pure."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

CSV_HEADER = (
    "name",
    "industries",
    "buyer_levels",
    "competencies",
    "geographies",
    "contacts",
    "slack_team_id",
)
LIST_FIELDS = ("industries", "buyer_levels", "competencies", "geographies", "contacts")
MAX_FIELD = 2000
WORD_RE = re.compile(r"[\w&+-]+", re.UNICODE)
# What each capability is worth when a search word names it.
WEIGHTS = {"industries": 3.0, "buyer_levels": 3.0, "competencies": 2.0, "geographies": 1.0}
WIN_WEIGHT = 1.5


@dataclass(frozen=True)
class Partner:
    name: str
    industries: tuple[str, ...] = ()
    buyer_levels: tuple[str, ...] = ()
    competencies: tuple[str, ...] = ()
    geographies: tuple[str, ...] = ()
    contacts: tuple[str, ...] = ()
    slack_team_id: str | None = None


@dataclass(frozen=True)
class Rejected:
    line: int
    reason: str


@dataclass(frozen=True)
class Ranked:
    partner: Partner
    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class FindView:
    """Ranked partners for a search, and the deal they could be attached to."""

    query: tuple[str, ...]
    ranked: tuple[Ranked, ...]
    deal_id: int | None
    deal_key: str | None


def read_csv(text: str) -> tuple[list[Partner], list[Rejected]]:
    """Parse a capability-map CSV; bad rows are reported by line number, good rows kept."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return [], [Rejected(1, "the file is empty; expected the header " + ",".join(CSV_HEADER))]
    header = tuple(h.strip().lower() for h in rows[0])
    if header != CSV_HEADER:
        return [], [Rejected(1, "the header must be exactly " + ",".join(CSV_HEADER))]
    partners, rejected, seen = [], [], set()
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # blank line
        if len(row) != len(CSV_HEADER):
            rejected.append(Rejected(line, f"{len(row)} columns, the header has {len(CSV_HEADER)}"))
            continue
        cells = dict(zip(CSV_HEADER, (c.strip() for c in row), strict=True))
        if not cells["name"]:
            rejected.append(Rejected(line, "no partner name"))
            continue
        too_long = [k for k, v in cells.items() if len(v) > MAX_FIELD]
        if too_long:
            rejected.append(Rejected(line, f"{too_long[0]} is longer than {MAX_FIELD} characters"))
            continue
        if cells["name"].casefold() in seen:
            rejected.append(
                Rejected(line, f"{cells['name']} appears twice; the first row was kept")
            )
            continue
        seen.add(cells["name"].casefold())
        partners.append(
            Partner(
                name=" ".join(cells["name"].split()),
                **{f: _split(cells[f]) for f in LIST_FIELDS},  # type: ignore[arg-type]
                slack_team_id=cells["slack_team_id"] or None,
            )
        )
    return partners, rejected


def write_csv(partners: Iterable[Partner]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for p in partners:
        writer.writerow(
            [p.name, *(";".join(getattr(p, f)) for f in LIST_FIELDS), p.slack_team_id or ""]
        )
    return out.getvalue()


def words(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(w.casefold() for w in WORD_RE.findall(text)))


@dataclass(frozen=True)
class CapabilityIndex:
    """Partners with their capability values tokenised once, so a search only compares."""

    entries: tuple[tuple[Partner, tuple[tuple[str, tuple[str, frozenset[str]], ...], ...]], ...]

    @classmethod
    def build(cls, partners: Iterable[Partner]) -> CapabilityIndex:
        entries = []
        for partner in partners:
            fields = tuple(
                (field, tuple((v, frozenset(words(v))) for v in getattr(partner, field)))
                for field in WEIGHTS
            )
            entries.append((partner, fields))
        return cls(tuple(entries))


def rank(
    index: CapabilityIndex,
    query: Sequence[str],
    *,
    wins: Mapping[str, Sequence[str]] | None = None,
    limit: int = 5,
) -> list[Ranked]:
    """Score partners by the search words their capabilities name, plus deals won with us
    (`wins`: partner name -> text of each won deal); each rank says why."""
    wins = wins or {}
    terms = [t for t in query if t]
    long_terms = [t for t in terms if len(t) >= 4]
    results = []
    for partner, fields in index.entries:
        score, reasons = 0.0, []
        for field, values in fields:
            hits = [v for v, tokens in values if _hit(tokens, terms, long_terms)]
            if hits:
                score += WEIGHTS[field] * len(hits)
                reasons.append(" / ".join(hits[:2]))
        won = wins.get(partner.name, ())
        if won:
            won_tokens = [frozenset(words(w)) for w in won]
            relevant = (
                [t for t in won_tokens if _hit(t, terms, long_terms)] if terms else won_tokens
            )
            matched = [t for t in terms if any(t in tokens for tokens in relevant)]
            if relevant:
                score += WIN_WEIGHT * min(len(relevant), 5)
                what = f"{matched[0]} " if matched else ""
                plural = "s" if len(relevant) != 1 else ""
                reasons.append(f"won {len(relevant)} {what}deal{plural} with us")
        if score > 0:
            results.append(Ranked(partner, score, tuple(reasons)))
    results.sort(key=lambda r: (-r.score, r.partner.name.casefold()))
    return results[:limit]


def _hit(tokens: frozenset[str], terms: Sequence[str], long_terms: Sequence[str]) -> bool:
    """A search word names a value when it is one of its words, or (4+ letters) a prefix of one."""
    if any(t in tokens for t in terms):
        return True
    return any(k.startswith(t) for t in long_terms for k in tokens)


def _split(cell: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(" ".join(v.split()) for v in cell.split(";") if v.strip()))
