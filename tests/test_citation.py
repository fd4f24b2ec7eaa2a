"""The metadata-line parsers: citation lines, a commentary's Links lines, author lines."""

from __future__ import annotations

import dataclasses

import pytest

from commkg.citation import (
    Field,
    is_citation_line,
    looks_like_author_line,
    parse_author_line,
    parse_citation,
    parse_cited_reference,
)

CITATION_FIELDS = ("journal", "year", "month", "day", "volume", "issue", "pages", "doi", "epub")

# Every citation line of the seeds and the dev set, with the values each field must take.
CITATIONS = [
    ("BMJ Open. 2013 Sep 6;3(9):e003341. doi: 10.1136/bmjopen-2013-003341.",
     dict(journal="BMJ Open", year="2013", month="Sep", day="6", volume="3", issue="9",
          pages="e003341", doi="10.1136/bmjopen-2013-003341", epub=None, e_locator="e003341")),
    ("BMC Health Serv Res. 2013;13 Suppl 1(Suppl 1):S4. doi: 10.1186/1472-6963-13-S1-S4. Epub 2013 May 24.",
     dict(journal="BMC Health Serv Res", year="2013", month=None, day=None, volume="13 Suppl 1",
          issue="Suppl 1", pages="S4", doi="10.1186/1472-6963-13-S1-S4", epub="2013 May 24",
          e_locator="S4")),
    ("BMC Health Serv Res. 2013;13 Suppl 1(Suppl 1):S3. doi: 10.1186/1472-6963-13-S1-S3. Epub 2013 May 24.",
     dict(journal="BMC Health Serv Res", year="2013", volume="13 Suppl 1", pages="S3",
          doi="10.1186/1472-6963-13-S1-S3", epub="2013 May 24", e_locator="S3")),
    ("BMC Health Serv Res. 2008;8:63.",
     dict(journal="BMC Health Serv Res", year="2008", month=None, volume="8", issue=None,
          pages="63", doi=None, epub=None, e_locator="63")),
    ("J Health Serv Res Policy. 2016 Jul;21(3):156-65. Epub 2016 Jan 24.",
     dict(journal="J Health Serv Res Policy", year="2016", month="Jul", day=None, volume="21",
          issue="3", pages="156-65", doi=None, epub="2016 Jan 24", e_locator=None)),
    ("J Health Serv Res Policy. 2009 Jan;14(1):20-6. doi: 10.1258/jhsrp.2008.008043.",
     dict(journal="J Health Serv Res Policy", year="2009", month="Jan", volume="14", issue="1",
          pages="20-6", doi="10.1258/jhsrp.2008.008043", e_locator=None)),
    ("BMJ Open. 2014;4:e004810. doi: 10.1136/bmjopen-2014-004810.",
     dict(journal="BMJ Open", year="2014", month=None, volume="4", issue=None, pages="e004810",
          doi="10.1136/bmjopen-2014-004810", e_locator="e004810")),
    ("BMJ Open. 2014;4(10):e005970. doi: 10.1136/bmjopen-2014-005970.",
     dict(journal="BMJ Open", year="2014", volume="4", issue="10", pages="e005970",
          doi="10.1136/bmjopen-2014-005970")),
    ("BMJ Open. 2017;7(11):e018422. doi: 10.1136/bmjopen-2017-018422.",
     dict(journal="BMJ Open", year="2017", volume="7", issue="11", doi="10.1136/bmjopen-2017-018422")),
    ("BMJ Open. 2019 Apr 1;9(4):e027622. doi: 10.1136/bmjopen-2018-027622.",
     dict(journal="BMJ Open", year="2019", month="Apr", day="1", doi="10.1136/bmjopen-2018-027622")),
    ("BMJ Open. 2019 Apr 14;9(4):e024156. doi: 10.1136/bmjopen-2018-024156.",
     dict(journal="BMJ Open", year="2019", month="Apr", day="14", doi="10.1136/bmjopen-2018-024156")),
    ("Aust Health Rev. 2022 Oct;46(5):586-594. doi: 10.1071/AH21356. Epub 2022 Apr 19.",
     dict(journal="Aust Health Rev", year="2022", month="Oct", volume="46", issue="5",
          pages="586-594", doi="10.1071/AH21356", epub="2022 Apr 19", e_locator=None)),
    ("Aust J Prim Health. 2016;22(1):50-54. doi: 10.1071/PY15067.",
     dict(journal="Aust J Prim Health", year="2016", volume="22", issue="1", pages="50-54",
          doi="10.1071/PY15067")),
    ("Health Res Policy Syst. 2021 Apr 12;19(1):63. doi: 10.1186/s12961-021-00711-3.",
     dict(journal="Health Res Policy Syst", year="2021", month="Apr", day="12", volume="19",
          issue="1", pages="63", doi="10.1186/s12961-021-00711-3", e_locator="63")),
    ("Int J Integr Care. 2024;24(1):9. doi: 10.5334/ijic.7610.",
     dict(journal="Int J Integr Care", year="2024", volume="24", issue="1", pages="9",
          doi="10.5334/ijic.7610", e_locator="9")),
    # Not in the corpus, but PubMed writes them: a season, trailing PMID, surrounding spaces.
    ("  Health Aff (Millwood). 2012 Winter;31(1):10-18. doi: 10.1377/hlthaff.2011.0001. PMID: 22232088.  ",
     dict(journal="Health Aff (Millwood)", year="2012", month="Winter", volume="31", issue="1",
          pages="10-18", doi="10.1377/hlthaff.2011.0001")),
]


def _check_offsets(line: str, parsed: object) -> None:
    for f in dataclasses.fields(parsed):
        value = getattr(parsed, f.name)
        if isinstance(value, Field):
            assert line[value.start:value.end] == value.value, f.name


@pytest.mark.parametrize("line,expected", CITATIONS, ids=[c[0][:40] for c in CITATIONS])
def test_citation_line_fields(line: str, expected: dict) -> None:
    citation = parse_citation(line)
    assert citation is not None
    assert is_citation_line(line)
    for name, value in expected.items():
        field = getattr(citation, name)
        assert (field.value if field else None) == value, name
    _check_offsets(line, citation)
    # The DOI never carries the sentence's final period.
    if citation.doi is not None:
        assert not citation.doi.value.endswith(".")


NOT_CITATIONS = [
    "Queen Mary University of London, London, UK.",
    "Addicott Rachael",
    "The study was done. 2013 was a good year.",
    "To examine the work of commissioning care for people with long-term conditions.",
    # a citation followed by prose is a sentence that quotes one, not the record's citation line
    "BMJ Open. 2013 Sep 6;3(9):e003341. doi: 10.1136/bmjopen-2013-003341. We discuss it here.",
    # a commentary's reference (authors before the journal) is not a citation line
    "SE Shaw, JA Smith. The work of commissioning. BMJ Open. 2013;3:e003341.",
    "BMJ Open, 2013, 3:e003341.",
    # ahead of print without volume, pages or DOI says too little
    "BMJ Open. 2013 Sep 6.",
    "",
    "考察长期病患者的委托护理工作。",
]


@pytest.mark.parametrize("line", NOT_CITATIONS)
def test_not_a_citation_line(line: str) -> None:
    assert parse_citation(line) is None
    assert not is_citation_line(line)


def test_ahead_of_print_citation_with_doi() -> None:
    line = "BMJ Open. 2023 Jan 5. doi: 10.1136/bmjopen-2022-000001. Epub 2023 Jan 5."
    citation = parse_citation(line)
    assert citation is not None
    assert citation.volume is None and citation.pages is None and citation.e_locator is None
    assert citation.doi.value == "10.1136/bmjopen-2022-000001"
    assert citation.epub.value == "2023 Jan 5"


# The Links lines of seed 002 and dev a05, and two other ways commentaries cite.
REFERENCES = [
    ("SE Shaw, JA Smith, A Porter, R Rosen, N Mays. The work of commissioning: a multisite case "
     "study of healthcare commissioning in England’s NHS (PDF). BMJ Open, 2013, 3:e003341.",
     dict(authors="SE Shaw, JA Smith, A Porter, R Rosen, N Mays",
          title="The work of commissioning: a multisite case study of healthcare commissioning in England’s NHS",
          journal="BMJ Open", year="2013", volume="3", e_locator="e003341", doi=None)),
    ("C Petsoulas, P Allen, K Checkland, A Coleman, J Segar, S Peckham, I McDermott. Views of NHS "
     "commissioners on commissioning support provision. Evidence from a qualitative study examining "
     "the early development of clinical commissioning groups in England. BMJ Open, 2014, 4:e005970.",
     dict(authors="C Petsoulas, P Allen, K Checkland, A Coleman, J Segar, S Peckham, I McDermott",
          title="Views of NHS commissioners on commissioning support provision. Evidence from a "
                "qualitative study examining the early development of clinical commissioning groups in England",
          journal="BMJ Open", year="2014", volume="4", e_locator="e005970")),
    ("Shaw SE, Smith JA, Porter A, et al. The work of commissioning. BMJ Open 2013;3:e003341. "
     "doi:10.1136/bmjopen-2013-003341",
     dict(authors="Shaw SE, Smith JA, Porter A, et al", title="The work of commissioning",
          journal="BMJ Open", year="2013", volume="3", e_locator="e003341",
          doi="10.1136/bmjopen-2013-003341")),
    ("Smith J. Commissioning in England. J Health Serv Res Policy. 2016 Jul;21(3):156-65.",
     dict(authors="Smith J", title="Commissioning in England", journal="J Health Serv Res Policy",
          year="2016", volume="21", e_locator=None)),
]


@pytest.mark.parametrize("line,expected", REFERENCES, ids=[r[1]["journal"] + r[1]["year"] for r in REFERENCES])
def test_cited_reference(line: str, expected: dict) -> None:
    reference = parse_cited_reference(line)
    assert reference is not None
    for name, value in expected.items():
        field = getattr(reference, name)
        assert (field.value if field else None) == value, name
    _check_offsets(line, reference)


@pytest.mark.parametrize("line", [
    # the "Related Commissioning Elf posts" line of seed 002: a blog post, no journal volume
    "De Brún, C. “Carers can help commissioners meet financial targets”, according to report. "
    "The Commissioning Elf, 13 Aug 2013.",
    "Links",
    "This article is full of useful information.",
])
def test_not_a_cited_reference(line: str) -> None:
    assert parse_cited_reference(line) is None


AUTHOR_LINES = [
    ("Addicott Rachael", ["Addicott R"]),
    ("Taylor-Phillips Sian", ["Taylor-Phillips S"]),
    ("Coleman Anna", ["Coleman A"]),
    ("Exley Josephine", ["Exley J"]),
    ("Addicott, Rachael", ["Addicott R"]),
    ("Addicott R, Smith JA", ["Addicott R", "Smith JA"]),
    ("Addicott Rachael; Smith John Andrew", ["Addicott R", "Smith JA"]),
    ("van der Berg Anna Maria", ["van der Berg AM"]),
    ("SE Shaw, JA Smith", ["Shaw SE", "Smith JA"]),
    ("Moran Jean-Pierre", ["Moran JP"]),
    ("Addicott Rachael and Smith John", ["Addicott R", "Smith J"]),
    ("Addicott R, Smith J & Jones K", ["Addicott R", "Smith J", "Jones K"]),
    ("Shaw S.E.", ["Shaw SE"]),
]


@pytest.mark.parametrize("line,expected", AUTHOR_LINES)
def test_author_line(line: str, expected: list[str]) -> None:
    names = parse_author_line(line)
    assert [n.initials_form for n in names] == expected
    for name in names:
        _check_offsets(line, name)


def test_author_fields() -> None:
    (name,) = parse_author_line("Taylor-Phillips Sian")
    assert name.family == Field("Taylor-Phillips", 0, 15)
    assert name.given == Field("Sian", 16, 20)
    assert parse_author_line("") == []


@pytest.mark.parametrize("line,expected", [
    ("Addicott Rachael", True),
    ("Taylor-Phillips Sian", True),
    ("Gask Linda", True),
    ("Health Services Research Unit", False),      # an organisation, not a person
    ("The King's Fund, 11-13 Cavendish Square, London, W1G 0AN, UK. Email.", False),
    ("Background", False),                         # one word: not a full name
    ("What they found", False),                    # lower-case words: a heading
    ("Links", False),
    ("BMC Health Serv Res. 2008;8:63.", False),
])
def test_looks_like_author_line(line: str, expected: bool) -> None:
    assert looks_like_author_line(line) is expected


# Lines that made early versions of these regexes backtrack for minutes, as a function of their length.
PATHOLOGICAL = {
    "spaces": lambda n: " " * (5 * n) + "x",
    "spaces between words": lambda n: "x" + " " * (5 * n) + "x",
    "(PDF) repeated": lambda n: "A B. T" + " (PDF)" * n + ". BMJ Open, 2013, 3:e1.",
    "dots": lambda n: "SE Shaw. Title" + " ." * (2 * n) + " BMJ Open, 2013, 3:e1.",
    "commas": lambda n: "A, " * (2 * n),
    "words": lambda n: "word " * (2 * n),
}


def _parse_all(line: str) -> None:
    parse_citation(line)
    parse_cited_reference(line)
    parse_author_line(line)
    looks_like_author_line(line)


@pytest.mark.parametrize("make", PATHOLOGICAL.values(), ids=PATHOLOGICAL.keys())
def test_pathological_lines_take_time_linear_in_their_length(make) -> None:
    import time

    lines = {"short": make(1_250), "long": make(10_000)}
    # CPU seconds, the best of three rounds that alternate the two lines: a rate, not a speed,
    # and a busy spell on a shared machine slows both lines rather than one.
    best = dict.fromkeys(lines, float("inf"))
    for _ in range(3):
        for name, line in lines.items():
            started = time.process_time()
            _parse_all(line)
            best[name] = min(best[name], time.process_time() - started)
    # Eight times the line, about eight times the time; backtracking (quadratic or worse) would
    # take sixty-four times or more.
    assert best["long"] < 24 * best["short"] + 0.02, best