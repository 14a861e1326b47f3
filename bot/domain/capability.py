"""The partner capability map: CSV rows in and out, and ranking partners for a need. Pure."""

from __future__ import annotations

import bisect
import csv
import heapq
import io
import operator
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat

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


# Each field's postings of a word: the partners whose value names it, as one int each: the
# partner's place in name order (inverted: larger is earlier) << 20 | the value's position. A
# search is then set unions and counting in C (collections.Counter), with no object per
# posting for the garbage collector to walk (which was most of a slow search's time).
_VALUE_BITS = 20
_VALUE_MASK = (1 << _VALUE_BITS) - 1
# Scores are counted in points (field weights are whole points); a won deal is worth half
# points (WIN_WEIGHT), so totals are compared in half points.
_POINTS = tuple(int(w) for w in WEIGHTS.values())
_HALF_WIN = int(WIN_WEIGHT * 2)
MAX_WINS_COUNTED = 5


class CapabilityIndex:
    """An inverted index of the capability map: word -> the partner values that contain it.
    Built once per change of the map; a search then touches only the partners it names."""

    FIELDS = tuple(WEIGHTS)

    def __init__(self, partners: Iterable[Partner]) -> None:
        self.partners = list(partners)
        self.by_name = {p.name: i for i, p in enumerate(self.partners)}
        # Ties go to the name first in order: a partner's code is its place in name order,
        # inverted, so that a larger code wins a tie.
        order = sorted(range(len(self.partners)), key=lambda i: self.partners[i].name.casefold())
        self.code = [0] * len(self.partners)
        self.by_code = [0] * len(self.partners)
        for place, pi in enumerate(order):
            code = len(self.partners) - 1 - place
            self.code[pi], self.by_code[code] = code, pi
        postings: dict[str, list[list[int]]] = {}
        for pi, partner in enumerate(self.partners):
            for fi, field in enumerate(self.FIELDS):
                for vi, value in enumerate(getattr(partner, field)[: _VALUE_MASK + 1]):
                    posting = self.code[pi] << _VALUE_BITS | vi
                    for token in words(value):
                        by_field = postings.setdefault(token, [[] for _ in self.FIELDS])
                        by_field[fi].append(posting)
        self.postings: dict[str, tuple[tuple[int, ...], ...]] = {
            token: tuple(tuple(f) for f in by_field) for token, by_field in postings.items()
        }
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
    """Score partners by the search words their capabilities name (each named value once,
    weighted by its field), plus deals won with us (`wins`: partner name -> text of each won
    deal); each rank says why."""
    wins = wins or {}
    terms = [t for t in query if t]
    long_terms = [t for t in terms if len(t) >= 4]
    tokens = {token for term in terms for token in index.tokens_for(term)}
    points: Counter[int] = Counter()
    for fi, weight in enumerate(_POINTS):
        lists = [found for token in tokens if (found := index.postings[token][fi])]
        # Values named by two search words count once; one word's values are distinct already.
        named = lists[0] if len(lists) == 1 else set().union(*lists)
        if named:
            codes = list(map(operator.rshift, named, repeat(_VALUE_BITS)))
            for _ in range(weight):  # counted in C, once per point of the field's weight
                points.update(codes)
    won_by: dict[int, list[frozenset[str]]] = {}
    for name, texts in wins.items():
        if name in index.by_name:
            won_tokens = [frozenset(words(w)) for w in texts]
            relevant = (
                [t for t in won_tokens if _hit(t, terms, long_terms)] if terms else won_tokens
            )
            if relevant:
                won_by[index.code[index.by_name[name]]] = relevant
    bonus = {code: _HALF_WIN * min(len(r), MAX_WINS_COUNTED) for code, r in won_by.items()}
    # Only partners at or above the limit-th best score without wins can be among the best
    # (a win only lifts its own partner), plus those with wins.
    floor = min(heapq.nlargest(limit, points.values()), default=0)
    candidates = [code for code, p in points.items() if p >= floor] + list(bonus)
    best = heapq.nlargest(
        limit, set(candidates), key=lambda c: (2 * points.get(c, 0) + bonus.get(c, 0), c)
    )
    return [
        _explain(
            index,
            index.by_code[code],
            (2 * points.get(code, 0) + bonus.get(code, 0)) / 2,
            _matched(index, index.by_code[code], tokens),
            won_by.get(code, []),
            terms,
        )
        for code in best
    ]


def _matched(index: CapabilityIndex, pi: int, tokens: set[str]) -> list[tuple[int, int]]:
    """The (field, value) pairs of a partner that the search's words name."""
    partner = index.partners[pi]
    return [
        (fi, vi)
        for fi, field in enumerate(index.FIELDS)
        for vi, value in enumerate(getattr(partner, field))
        if not tokens.isdisjoint(words(value))
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
