"""The partner capability map: CSV rows in and out, and ranking partners for a need. Pure."""

from __future__ import annotations

import bisect
import csv
import heapq
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.domain.inputs import unstorable

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
# The same bounds on every database (PostgreSQL enforces column lengths, SQLite does not); a
# name this short also fits in an *Attach* button's value with room to spare.
LIMITS = {"name": 200, "slack_team_id": 32}
TEAM_ID_RE = re.compile(r"[TE][A-Z0-9]{2,31}")
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


def _rows(text: str) -> tuple[list[tuple[int, list[str]]], list[Rejected]]:
    """CSV rows with their line numbers; a row the csv module cannot read (a cell over its
    field limit, say) is reported and skipped, and the reading goes on."""
    reader = csv.reader(io.StringIO(text))
    rows: list[tuple[int, list[str]]] = []
    rejected: list[Rejected] = []
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return rows, rejected
        except csv.Error as err:
            rejected.append(Rejected(start, f"unreadable CSV ({err})"))
            continue
        rows.append((start, row))


def read_csv(text: str) -> tuple[list[Partner], list[Rejected]]:
    """Parse a capability-map CSV; bad rows are reported by line number, good rows kept."""
    numbered, unreadable = _rows(text)
    rows = [row for _, row in numbered]
    if not rows:
        return [], [Rejected(1, "the file is empty; expected the header " + ",".join(CSV_HEADER))]
    header = tuple(h.strip().lower() for h in rows[0])
    if header != CSV_HEADER:
        return [], [Rejected(1, "the header must be exactly " + ",".join(CSV_HEADER))]
    partners, rejected, seen = [], list(unreadable), set()
    for line, row in numbered[1:]:
        if not any(cell.strip() for cell in row):
            continue  # blank line
        if len(row) != len(CSV_HEADER):
            rejected.append(Rejected(line, f"{len(row)} columns, the header has {len(CSV_HEADER)}"))
            continue
        cells = dict(zip(CSV_HEADER, (c.strip() for c in row), strict=True))
        if not cells["name"]:
            rejected.append(Rejected(line, "no partner name"))
            continue
        bad = next(((k, p) for k, v in cells.items() if (p := unstorable(v))), None)
        if bad is not None:
            rejected.append(Rejected(line, f"{bad[0]} contains {bad[1]}"))
            continue
        too_long = [k for k, v in cells.items() if len(v) > LIMITS.get(k, MAX_FIELD)]
        if too_long:
            limit = LIMITS.get(too_long[0], MAX_FIELD)
            rejected.append(Rejected(line, f"{too_long[0]} is longer than {limit} characters"))
            continue
        if cells["slack_team_id"] and not TEAM_ID_RE.fullmatch(cells["slack_team_id"]):
            rejected.append(
                Rejected(line, "slack_team_id must be a Slack team id like T0123ABCD, or empty")
            )
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
    return partners, sorted(rejected, key=lambda r: r.line)


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


class CapabilityIndex:
    """An inverted index of the capability map: word -> the partner values that contain it.
    Built once per change of the map; a search then touches only the partners it names."""

    FIELDS = tuple(WEIGHTS)

    def __init__(self, partners: Iterable[Partner]) -> None:
        self.partners = list(partners)
        self.by_name = {p.name: i for i, p in enumerate(self.partners)}
        self.postings: dict[str, list[tuple[int, int, int]]] = {}
        for pi, partner in enumerate(self.partners):
            for fi, field in enumerate(self.FIELDS):
                for vi, value in enumerate(getattr(partner, field)):
                    for token in words(value):
                        self.postings.setdefault(token, []).append((pi, fi, vi))
        self.vocabulary = sorted(self.postings)

    @classmethod
    def build(cls, partners: Iterable[Partner]) -> CapabilityIndex:
        return cls(partners)

    def tokens_for(self, term: str) -> list[str]:
        """The index words a search word names: itself, or (4+ letters) any word it starts."""
        if len(term) < 4:
            return [term] if term in self.postings else []
        at = bisect.bisect_left(self.vocabulary, term)
        found = []
        while at < len(self.vocabulary) and self.vocabulary[at].startswith(term):
            found.append(self.vocabulary[at])
            at += 1
        return found


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
    hits: dict[int, set[tuple[int, int]]] = {}
    for term in terms:
        for token in index.tokens_for(term):
            for pi, fi, vi in index.postings[token]:
                hits.setdefault(pi, set()).add((fi, vi))
    won_by: dict[int, list[frozenset[str]]] = {}
    for name, texts in wins.items():
        if name in index.by_name:
            won_tokens = [frozenset(words(w)) for w in texts]
            relevant = (
                [t for t in won_tokens if _hit(t, terms, long_terms)] if terms else won_tokens
            )
            if relevant:
                won_by[index.by_name[name]] = relevant
    weights = [WEIGHTS[f] for f in index.FIELDS]
    scored = [
        (
            sum(weights[fi] for fi, _ in hits.get(pi, ()))
            + WIN_WEIGHT * min(len(won_by.get(pi, ())), 5),
            pi,
        )
        for pi in hits.keys() | won_by.keys()
    ]
    top = heapq.nsmallest(
        limit, scored, key=lambda s: (-s[0], index.partners[s[1]].name.casefold())
    )
    return [
        _explain(index, pi, score, sorted(hits.get(pi, ())), won_by.get(pi, []), terms)
        for score, pi in top
    ]


def _explain(
    index: CapabilityIndex,
    pi: int,
    score: float,
    matched: list[tuple[int, int]],
    relevant: list[frozenset[str]],
    terms: Sequence[str],
) -> Ranked:
    """Why a partner ranks: the values the search named, then deals won with us."""
    partner, reasons = index.partners[pi], []
    for fi, field in enumerate(index.FIELDS):
        values = [getattr(partner, field)[vi] for f, vi in matched if f == fi]
        if values:
            reasons.append(" / ".join(values[:2]))
    if relevant:
        named = [t for t in terms if any(t in tokens for tokens in relevant)]
        what = f"{named[0]} " if named else ""
        reasons.append(f"won {len(relevant)} {what}deal{'s' if len(relevant) != 1 else ''} with us")
    return Ranked(partner, score, tuple(reasons))


def _hit(tokens: frozenset[str], terms: Sequence[str], long_terms: Sequence[str]) -> bool:
    """A search word names a text when it is one of its words, or (4+ letters) a prefix of one."""
    if any(t in tokens for t in terms):
        return True
    return any(k.startswith(t) for t in long_terms for k in tokens)


def _split(cell: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(" ".join(v.split()) for v in cell.split(";") if v.strip()))
