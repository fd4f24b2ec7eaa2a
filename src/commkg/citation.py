"""Parsing of a record's metadata lines: the PubMed citation line, a commentary's cited
reference (a line of its Links section) and the author line.

Every parsed value is a `Field` that also says where it sits in the line it came from, so the
extractor can point its evidence at the exact characters (it adds the line's own offset).
The parsers never raise on odd input: a line that does not fit gives None (or an empty list).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    """One parsed value and where it sits in the line: line[start:end] == value."""

    value: str
    start: int
    end: int


def _field(match: re.Match[str], group: str) -> Field | None:
    value = match.group(group)
    if value is None or not value.strip():
        return None
    return Field(value, match.start(group), match.end(group))


# An electronic article id (e003341, S4, 63): a page field that is one token, not a range.
_E_LOCATOR = re.compile(r"[A-Za-z]{0,3}\d+[A-Za-z]?")


def _e_locator(pages: Field | None) -> Field | None:
    if pages is not None and _E_LOCATOR.fullmatch(pages.value):
        return pages
    return None


# --------------------------------------------------------------------------- citation line

_MONTH = (
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    r"(?:-(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec))?"
    r"|Spring|Summer|Autumn|Fall|Winter"
)

# PubMed: `Journal. YEAR[ Mon[ DD]];VOL[(ISSUE)]:PAGES.` NLM journal abbreviations carry no
# periods, which is what keeps a sentence of prose from passing for a citation.
_CITATION_HEAD = re.compile(
    rf"""
    \s*
    (?P<journal>[A-Za-z0-9][^.;:]{{0,119}}?)\.\s+
    (?P<year>(?:1[89]|20)\d\d)
    (?:\s+(?P<month>{_MONTH})(?:\s+(?P<day>\d{{1,2}}))?)?
    (?:
        \s*;\s*(?P<volume>[^();:.\s][^();:.]*?)?\s*(?:\((?P<issue>[^()]*)\))?
        (?:\s*:\s*(?P<pages>[^\s.;][^\s;]*?))?
    )?
    \.(?=\s|$)
    """,
    re.VERBOSE,
)

# A DOI: `10.` registrant `/` suffix; a final period belongs to the sentence, not the DOI.
_DOI = r"10\.\d{4,9}/\S+?(?=\.?(?:\s|$))"
_DOI_ITEM = re.compile(rf"\s*doi:\s*(?P<doi>{_DOI})\.?")
_EPUB_ITEM = re.compile(
    rf"\s*Epub\s+(?P<epub>(?:1[89]|20)\d\d(?:\s+(?:{_MONTH})(?:\s+\d{{1,2}})?)?)\.?"
)
# Other trailers PubMed writes after the pages; recognised so they do not break the line.
_OTHER_ITEM = re.compile(
    r"\s*(?:Epub ahead of print\.|eCollection\s+[^.]*\.|Print\s+[^.]*\.|"
    r"PMID:\s*\d+\.?|PMCID:\s*PMC\d+\.?|pii:\s*\S+?\.(?=\s|$))"
)


@dataclass(frozen=True)
class Citation:
    journal: Field | None
    year: Field | None
    month: Field | None
    day: Field | None
    volume: Field | None
    issue: Field | None
    pages: Field | None
    doi: Field | None
    epub: Field | None  # the Epub date text, "2013 May 24"

    @property
    def e_locator(self) -> Field | None:
        """The pages when they are a single electronic article id ("e003341", "S4", "63")."""
        return _e_locator(self.pages)


def parse_citation(line: str) -> Citation | None:
    """The fields of a PubMed citation line, or None when `line` is not one."""
    head = _CITATION_HEAD.match(line)
    if head is None:
        return None
    doi = epub = None
    pos = head.end()
    # The rest of the line must be nothing but known trailers: a sentence that merely starts
    # like a citation is not one.
    while pos < len(line) and line[pos:].strip():
        if doi is None and (m := _DOI_ITEM.match(line, pos)):
            doi = _field(m, "doi")
        elif epub is None and (m := _EPUB_ITEM.match(line, pos)):
            epub = _field(m, "epub")
        elif m := _OTHER_ITEM.match(line, pos):
            pass
        else:
            return None
        pos = m.end()
    volume, pages = _field(head, "volume"), _field(head, "pages")
    # "Journal. 2016 Jan 24." alone (online ahead of print) is a citation only with a DOI.
    if volume is None and pages is None and doi is None:
        return None
    return Citation(
        journal=_field(head, "journal"),
        year=_field(head, "year"),
        month=_field(head, "month"),
        day=_field(head, "day"),
        volume=volume,
        issue=_field(head, "issue"),
        pages=pages,
        doi=doi,
        epub=epub,
    )


def is_citation_line(line: str) -> bool:
    return parse_citation(line) is not None


# ---------------------------------------------------------------- a commentary's Links line

@dataclass(frozen=True)
class CitedReference:
    """A reference in a commentary's Links section, e.g.
    "SE Shaw, JA Smith, …. The work of commissioning: … (PDF). BMJ Open, 2013, 3:e003341."
    """

    authors: Field | None
    title: Field | None
    journal: Field | None
    year: Field | None
    volume: Field | None
    e_locator: Field | None
    doi: Field | None = None  # when the line also gives one (not in the seeds)


_REF_PAGES = r"(?P<pages>[A-Za-z]{0,3}\d+[A-Za-z0-9]*(?:\s*[-–]\s*[A-Za-z]{0,3}\d+)?)"
# The journal is the run of text after the last period or comma before the year.
_REF_JOURNAL = r"(?<![\w'’])(?P<journal>[A-Za-z][^.,;]{0,150}?)"
_REF_TAILS = (
    # Blog style: "BMJ Open, 2013, 3:e003341."
    re.compile(
        rf"{_REF_JOURNAL},\s*(?P<year>(?:1[89]|20)\d\d),\s*(?P<volume>\d+)"
        rf"(?:\s*\([^()]*\))?\s*:\s*{_REF_PAGES}\.?\s*$"
    ),
    # PubMed / Vancouver style: "BMJ Open. 2013 Sep 6;3(9):e003341." or "BMJ Open 2013;3:e003341"
    re.compile(
        rf"{_REF_JOURNAL}\.?\s+(?P<year>(?:1[89]|20)\d\d)(?:\s+(?:{_MONTH})(?:\s+\d{{1,2}})?)?"
        rf"\s*;\s*(?P<volume>\d+)(?:\s*\([^()]*\))?\s*:\s*{_REF_PAGES}\.?\s*$"
    ),
)
# (No leading \s*: with search() that would be quadratic on long runs of spaces.)
_REF_DOI = re.compile(rf"(?:\bdoi:\s*|https?://(?:dx\.)?doi\.org/)(?P<doi>{_DOI})\.?\s*$", re.I)

# "SE Shaw", "Shaw SE", "Shaw S.E.", "et al": the names before the title.
_INITIALS = r"(?:[A-Z]\.?){1,3}"
_SURNAME = r"[A-Z][\w'’-]+(?:\s[A-Z][\w'’-]+)?"
_REF_NAME = rf"(?:{_INITIALS}\s+{_SURNAME}|{_SURNAME}\s+{_INITIALS}|et\s+al)"
_REF_AUTHORS = re.compile(
    rf"\s*(?P<authors>{_REF_NAME}(?:\s*(?:,|\band\b|&)\s*{_REF_NAME})*)\s*[.,]?\s+(?=\S)"
)
_TITLE_MARK = re.compile(r"[\[(](?:PDF|HTML|link)[\])]$", re.I)


def _title_end(line: str, start: int, end: int) -> int:
    """Where the title ends once the "(PDF)" marks and the final stops are left out. Walks
    back from the end, one mark at a time, so a long tail of marks stays linear."""
    while end > start:
        if line[end - 1].isspace() or line[end - 1] in ".,;:":
            end -= 1
        elif mark := _TITLE_MARK.search(line, max(start, end - 6), end):
            end = mark.start()
        else:
            break
    return end


def parse_cited_reference(line: str) -> CitedReference | None:
    """The parts of a reference line, or None when it names no journal, year and volume."""
    doi = None
    body_end = len(line)
    if m := _REF_DOI.search(line):
        doi = _field(m, "doi")
        body_end = m.start()
    tail = None
    for pattern in _REF_TAILS:
        tail = pattern.search(line, 0, body_end)
        if tail is not None:
            break
    if tail is None:
        return None
    authors = None
    title_start = len(line) - len(line.lstrip())
    if (m := _REF_AUTHORS.match(line, 0, tail.start("journal"))) is not None:
        authors = _field(m, "authors")
        if authors is not None and authors.value.endswith("."):  # the list's own full stop
            authors = Field(authors.value[:-1], authors.start, authors.end - 1)
        title_start = m.end()
    title = None
    title_end = _title_end(line, title_start, tail.start("journal"))
    if line[title_start:title_end].strip():
        title = Field(line[title_start:title_end], title_start, title_end)
    return CitedReference(
        authors=authors,
        title=title,
        journal=_field(tail, "journal"),
        year=_field(tail, "year"),
        volume=_field(tail, "volume"),
        e_locator=_e_locator(_field(tail, "pages")),
        doi=doi,
    )


# --------------------------------------------------------------------------- author line

@dataclass(frozen=True)
class AuthorName:
    family: Field
    given: Field | None

    @property
    def initials_form(self) -> str:
        """"Addicott R", the form of the gold annotations and of PubMed's AU field."""
        if self.given is None:
            return self.family.value
        initials = "".join(
            part[0].upper() for part in re.split(r"[\s.\-‐]+", self.given.value) if part
        )
        # A given field that is already initials ("SE", "RJ") keeps them all.
        if re.fullmatch(r"(?:[A-Z]\.?){1,4}", self.given.value.replace(" ", "")):
            initials = self.given.value.replace(".", "").replace(" ", "")
        return f"{self.family.value} {initials}".rstrip()


# Surname particles that belong to the family name ("van der Berg Anna").
_PARTICLES = {"van", "von", "der", "den", "de", "del", "della", "da", "di", "du", "le", "la",
              "dos", "das", "ter", "ten", "st", "st.", "mac", "al", "el", "bin", "ibn"}
_NAME_TOKEN = re.compile(r"[^\W\d_][\w'’.\-‐]*")
_TOKEN = re.compile(r"\S+")
# Words of organisation names: a line carrying one is an address, not a person.
_ORGANISATION_WORDS = re.compile(
    r"\b(?:University|School|Department|Dept|Centre|Center|Institute|Fund|Trust|Group|Unit|"
    r"College|Faculty|Division|Hospital|Council|Foundation|Agency|Ministry|Office|Network|"
    r"Research|Services?|Health|NHS|Ltd|Inc|Programme|Program|Commission|Society)\b"
)


_AND = re.compile(r"\s(?:and|&)\s")


def _split_names(line: str) -> list[tuple[int, int]]:
    """The spans of the separate names of an author line."""
    spans: list[tuple[int, int]] = []
    for part in re.finditer(r"[^;]+", line):
        pieces = [(part.start() + m.start(), part.start() + m.end())
                  for m in re.finditer(r"[^,]+", part.group())]
        # "Addicott, Rachael" (PubMed's FAU form) is one name; "Addicott R, Smith J" two.
        if len(pieces) == 2 and _is_bare_surname(line[pieces[0][0]:pieces[0][1]]):
            spans.append((pieces[0][0], pieces[1][1]))
            continue
        for a, b in pieces:  # "Addicott R and Smith J"
            for separator in _AND.finditer(line, a, b):
                spans.append((a, separator.start()))
                a = separator.end()
            spans.append((a, b))
    return spans


def _is_bare_surname(text: str) -> bool:
    words = text.split()
    return bool(words) and all(w.lower() in _PARTICLES for w in words[:-1])


def _parse_name(line: str, start: int, end: int) -> AuthorName | None:
    tokens = [m for m in _TOKEN.finditer(line, start, end)]
    if not tokens:
        return None
    comma = line.find(",", start, end)
    if comma != -1:  # "Family, Given"
        family_tokens = [t for t in tokens if t.start() < comma]
        given_tokens = [t for t in tokens if t.start() > comma]
    elif len(tokens) > 1 and re.fullmatch(r"(?:[A-Z]\.?){1,3}", tokens[0].group()) \
            and not re.fullmatch(r"(?:[A-Z]\.?){1,3}", tokens[-1].group()):
        # "SE Shaw": initials first, as commentaries write them
        given_tokens, family_tokens = tokens[:1], tokens[1:]
    else:  # "Addicott Rachael", "van der Berg Anna"
        n = 0
        while n < len(tokens) - 2 and tokens[n].group().lower() in _PARTICLES:
            n += 1
        family_tokens, given_tokens = tokens[: n + 1], tokens[n + 1:]
    if not family_tokens:
        return None
    family_end = family_tokens[-1].end()
    if line[family_end - 1] == ",":
        family_end -= 1
    family = Field(line[family_tokens[0].start():family_end], family_tokens[0].start(), family_end)
    given = None
    if given_tokens:
        g_start, g_end = given_tokens[0].start(), given_tokens[-1].end()
        given = Field(line[g_start:g_end], g_start, g_end)
    return AuthorName(family, given)


def parse_author_line(line: str) -> list[AuthorName]:
    """The names of an author line ("Addicott Rachael", "Taylor-Phillips Sian", "Addicott R;
    Smith J"); [] when it holds none."""
    names = []
    for start, end in _split_names(line):
        name = _parse_name(line, start, end)
        if name is not None:
            names.append(name)
    return names


def looks_like_author_line(line: str) -> bool:
    """Whether a header line is an author line rather than an address: a few capitalised name
    words per name, no digits, no organisation words, no sentence punctuation."""
    text = line.strip()
    if not text or len(text) > 300 or re.search(r"[\d:()@/]", text):
        return False
    if _ORGANISATION_WORDS.search(text):
        return False
    # A final period ends a sentence, unless it ends an initial ("Shaw S.E.").
    if text.endswith((".", "!", "?")) and not re.search(r"\b[A-Z]\.$", text):
        return False
    names = parse_author_line(text)
    if not names:
        return False
    for name in names:
        words = name.family.value.split() + (name.given.value.split() if name.given else [])
        particles = sum(w.lower() in _PARTICLES for w in words)
        if name.given is None or not 2 <= len(words) - particles <= 4:
            return False
        for word in words:
            if not _NAME_TOKEN.fullmatch(word.rstrip(",")):
                return False
            if not word[0].isupper() and word.lower() not in _PARTICLES:
                return False
    return True
