"""Capability-map CSV rules and partner ranking, on hand-built data."""

from __future__ import annotations

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
