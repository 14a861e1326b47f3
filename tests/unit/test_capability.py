"""Capability-map CSV rules and partner ranking, on hand-built data."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.capability import (
    CSV_HEADER,
    CapabilityIndex,
    Partner,
    rank,
    read_csv,
    words,
    write_csv,
)

HEADER = ",".join(CSV_HEADER)
SAMPLE = f"""{HEADER}
MedData,Healthcare;Life Sciences,VP;C-level,Data platform;Analytics,US;EU,ann@meddata.io,T0MED
,Retail,VP,Cloud,US,,
ShortRow,Retail
CloudCo,Retail;Healthcare,Director,Cloud migration,US,bob@cloudco.io,
"Quote, Inc.","Finance","C-level","Risk; Data","UK","",""
meddata,dup,,,,,
"""


def test_csv_keeps_good_rows_and_reports_bad_ones_by_line() -> None:
    partners, rejected = read_csv(SAMPLE)
    assert [p.name for p in partners] == ["MedData", "CloudCo", "Quote, Inc."]
    assert [(r.line, r.reason) for r in rejected] == [
        (3, "no partner name"),
        (4, "2 columns, the header has 7"),
        (7, "meddata appears twice; the first row was kept"),
    ]
    assert partners[0].industries == ("Healthcare", "Life Sciences")
    assert partners[2].competencies == ("Risk", "Data") and partners[1].slack_team_id is None


def test_csv_round_trips() -> None:
    partners, _ = read_csv(SAMPLE)
    again, rejected = read_csv(write_csv(partners))
    assert again == partners and not rejected


def test_wrong_header_is_refused_whole() -> None:
    partners, rejected = read_csv("partner,industry\nA,B\n")
    assert not partners and rejected[0].line == 1 and HEADER in rejected[0].reason


def test_ranking_explains_itself_and_uses_win_history() -> None:
    partners, _ = read_csv(SAMPLE)
    index = CapabilityIndex.build(partners)
    ranked = rank(
        index,
        words("healthcare VP data"),
        wins={"MedData": ["Acme Health healthcare expansion", "Globex retail"] * 2},
    )
    assert [r.partner.name for r in ranked] == ["MedData", "CloudCo", "Quote, Inc."]
    assert ranked[0].reasons == (
        "Healthcare",
        "VP",
        "Data platform",
        "won 2 healthcare deals with us",
    )
    assert ranked[1].reasons == ("Healthcare",)
    # Prefixes of four letters or more count ("analy" → Analytics); short ones do not.
    assert rank(index, words("analy"))[0].partner.name == "MedData"
    assert rank(index, words("da")) == []
    assert rank(index, words("nothing matches")) == []


def test_ties_are_ordered_by_name() -> None:
    index = CapabilityIndex.build(
        [Partner("b", industries=("x",)), Partner("A", industries=("x",))]
    )
    assert [r.partner.name for r in rank(index, ["x"])] == ["A", "b"]


def _reference_rank(
    partners: list[Partner], query: tuple[str, ...], wins: dict[str, list[str]]
) -> list[tuple[str, float]]:
    """The ranking as specified, written the plain way: each value a search word names (the
    word itself, or a 4+ letter prefix of one of its words) counts its field's weight once;
    each relevant won deal 1.5, at most five; ties by name."""
    from bot.domain.capability import WEIGHTS, WIN_WEIGHT

    def names(word: str, text: str) -> bool:
        found = words(text)
        return word in found or (len(word) >= 4 and any(w.startswith(word) for w in found))

    scored = []
    for p in partners:
        score = sum(
            WEIGHTS[field]
            for field in WEIGHTS
            for value in getattr(p, field)
            if any(names(t, value) for t in query)
        )
        relevant = [w for w in wins.get(p.name, []) if not query or any(names(t, w) for t in query)]
        score += WIN_WEIGHT * min(len(relevant), 5)
        if score:
            scored.append((p.name, score))
    return sorted(scored, key=lambda s: (-s[1], s[0].casefold()))[:5]


VOCABULARY = [
    "data",
    "database",
    "datadog",
    "health",
    "healthcare",
    "vp",
    "cto",
    "retail",
    "ai",
    "analytics",
]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.sampled_from(VOCABULARY), max_size=3),
            st.lists(st.sampled_from(VOCABULARY), max_size=2),
            st.lists(
                st.tuples(st.sampled_from(VOCABULARY), st.sampled_from(VOCABULARY)), max_size=3
            ),
            st.integers(0, 3),
        ),
        min_size=1,
        max_size=25,
    ),
    st.lists(st.sampled_from(VOCABULARY + ["dat", "heal", "analy"]), min_size=1, max_size=3),
)
def test_the_fast_ranking_is_the_specified_one(rows: list, query: list[str]) -> None:
    partners = [
        Partner(
            f"P{i:02d}",
            industries=tuple(dict.fromkeys(ind)),
            buyer_levels=tuple(dict.fromkeys(lvl)),
            # Two words a value: one value may be named by two search words (it counts once).
            competencies=tuple(dict.fromkeys(f"{a} {b} platform" for a, b in comp)),
        )
        for i, (ind, lvl, comp, _) in enumerate(rows)
    ]
    wins = {f"P{i:02d}": [f"{VOCABULARY[n]} deal"] * n for i, (*_, n) in enumerate(rows) if n}
    terms = words(" ".join(query))
    got = [
        (r.partner.name, r.score) for r in rank(CapabilityIndex.build(partners), terms, wins=wins)
    ]
    assert got == _reference_rank(partners, terms, wins)
