"""The corpus reader: a record file → a `Record`, its lines sorted into metadata, English
paragraphs, Chinese translation and a commentary's links, each with character offsets into the
record's text (the file decoded as UTF-8, a leading BOM removed, line ends kept as they are).

The layout is the one of `shared/corpus/README.md`: affiliation lines, an optional author
line, the PubMed citation line, English paragraphs, then the Chinese translation; a commentary
has no citation line but a `Links` section. Anything that cannot be read as text is refused with
a `RecordError` that says what is wrong and how to fix it.
"""

from __future__ import annotations

import codecs
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from commkg.citation import is_citation_line, looks_like_author_line
from commkg.errors import CommkgError, RecordError

MAX_RECORD_BYTES = 2_000_000


@dataclass(frozen=True)
class Segment:
    """One line of a record: Record.text[start:end] == text (line end and surrounding
    whitespace left out)."""

    kind: str  # 'affiliation' | 'author' | 'citation' | 'paragraph' | 'heading' | 'translation' | 'link' | 'related'
    start: int
    end: int
    text: str
    label: str | None = None  # 'SETTING/PARTICIPANTS', 'Objective', '设置/参与者' …
    body_start: int = -1  # where the words after the label (or an affiliation's number) begin


@dataclass(frozen=True)
class Record:
    path: Path
    name: str
    text: str
    affiliations: tuple[Segment, ...]
    authors: tuple[Segment, ...]
    citation: Segment | None
    paragraphs: tuple[Segment, ...]  # English, in order: 'paragraph' (bullets too) or 'heading'
    translations: tuple[Segment, ...]
    links: tuple[Segment, ...]  # the lines of a commentary's Links section, not its heading
    related: tuple[Segment, ...]  # "Related … posts" and everything after it

    @property
    def is_commentary(self) -> bool:
        return self.citation is None and bool(self.links)


# ------------------------------------------------------------------------------- finding

def find_records(corpus: Path) -> list[Path]:
    """The *.txt files under `corpus`, sorted by their path relative to it. Hidden files and
    folders are skipped and symlinked folders are not followed (a link loop cannot hang us)."""
    corpus = Path(corpus)
    if not corpus.exists():
        raise CommkgError(f"corpus folder {corpus} does not exist")
    if not corpus.is_dir():
        raise CommkgError(f"corpus {corpus} is not a folder; give the folder that holds the .txt records")

    def refuse(error: OSError) -> None:
        raise CommkgError(f"cannot read folder {error.filename}: {error.strerror}")

    # Plain strings until the end: a corpus of 10,000 records is a pathlib call 10,000 times over
    # each step (and an incremental build that changed one record pays for all of them).
    root = os.fspath(corpus)
    found: list[tuple[tuple[str, ...], str, str]] = []
    for folder, dirs, files in os.walk(root, onerror=refuse, followlinks=False):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        parts = () if folder == root else tuple(os.path.relpath(folder, root).split(os.sep))
        for name in files:
            if name.startswith(".") or not name.lower().endswith(".txt"):
                continue
            found.append((parts + (name,), folder, name))
    found.sort()
    return [Path(folder, name) for _, folder, name in found]


# ------------------------------------------------------------------------------- reading

def _size(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f} MB"
    if n >= 1_000:
        return f"{n / 1_000:.1f} kB"
    return f"{n} bytes"


def _too_big(size: int, limit: int) -> str:
    shown, allowed = _size(size), _size(limit)
    if shown == allowed:  # "2.0 MB, over the 2.0 MB limit" would read as no reason at all
        shown, allowed = f"{size} bytes", f"{limit} bytes"
    return f"file is {shown}, over the {allowed} limit for one record"


def _decode(data: bytes, path: Path) -> str:
    """The bytes as text, or the RecordError that says why they are not UTF-8 text."""
    if not data:
        raise RecordError(path, "empty file")
    # UTF-32 first: its little-endian BOM starts with UTF-16's.
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise RecordError(path, "UTF-32 text; convert it to UTF-8")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise RecordError(path, "UTF-16 text; convert it to UTF-8")
    if b"\x00" in data:
        # UTF-16 without a BOM: ASCII text with a NUL beside every character.
        head = data[:2000]
        if len(head) >= 4 and (head[1::2].count(0) > 0.9 * len(head[1::2])
                               or head[0::2].count(0) > 0.9 * len(head[0::2])):
            raise RecordError(path, "UTF-16 text (no byte-order mark); convert it to UTF-8")
        raise RecordError(path, "binary file (contains NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        bad = data[error.start]
        raise RecordError(
            path, f"not UTF-8 text (invalid byte 0x{bad:02x} at offset {error.start}); convert it to UTF-8"
        ) from None
    return text


def read_record(path: Path, *, max_bytes: int = MAX_RECORD_BYTES) -> Record:
    """Read and parse one record file; RecordError for anything that is not a record."""
    path = Path(path)
    if any("\ud800" <= c <= "\udfff" for c in path.name):
        # Bytes of the name that are not UTF-8 arrive as lone surrogates, which no UTF-8 output
        # can hold: the name goes into the graph (comm:sourceFile), so refuse the record here.
        raise RecordError(path, "the file name is not UTF-8 text; rename the file")
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise RecordError(path, "a folder, not a record file")
        if not stat.S_ISREG(info.st_mode):  # opening a pipe would wait for a writer forever
            raise RecordError(path, "not a regular file (a pipe, socket or device)")
        size = info.st_size
        if size > max_bytes:  # refuse before reading: the file may be huge
            raise RecordError(path, _too_big(size, max_bytes))
        with path.open("rb") as stream:
            # Read one byte past the limit: the file may have grown since stat.
            data = stream.read(max_bytes + 1)
    except OSError as error:
        raise RecordError(path, f"cannot read: {error.strerror or error}") from None
    if len(data) > max_bytes:
        raise RecordError(path, f"file is over the {_size(max_bytes)} limit for one record")
    text = _decode(data, path)
    return parse_record(text, path)


# ------------------------------------------------------------------------------- parsing

@dataclass(frozen=True)
class _Line:
    start: int  # offsets of the line's content, surrounding whitespace left out
    end: int
    text: str


def _lines(text: str) -> list[_Line]:
    """The non-blank lines of `text`. Only CR, LF and CRLF end a line (not the other
    characters str.splitlines knows), so offsets match what editors show."""
    lines = []
    for m in re.finditer(r"[^\r\n]+", text):
        content = m.group()
        stripped = content.strip()
        if stripped:
            start = m.start() + len(content) - len(content.lstrip())
            lines.append(_Line(start, start + len(stripped), stripped))
    return lines


_CJK = re.compile(
    r"[\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]"
)


def _is_translation(text: str) -> bool:
    """CJK characters dominate the line. One Han character carries about as much as a short
    English word, so it is weighed against two Latin letters; acronyms such as "CCGs" inside a
    Chinese sentence do not tip the balance."""
    cjk = len(_CJK.findall(text))
    if cjk == 0:
        return False  # most lines: their letters need no counting
    latin = sum(map(str.isalpha, text)) - cjk
    return 2 * cjk >= latin


# Labels of structured abstracts: "OBJECTIVES:", "SETTING/PARTICIPANTS:", "DESIGN/METHODOLOGY/
# APPROACH:", "MAIN OUTCOME MEASURE:", and in title case "Objective:", "Methods:".
_CAPS_LABEL = re.compile(r"(?P<label>[A-Z][A-Z-]+(?:(?: |/| ?& ?|, )[A-Z][A-Z-]*){0,5})\s*:\s*(?=\S)")
_TITLE_LABEL = re.compile(
    r"(?P<label>(?:Objectives?|Aims?|Background|Context|Purpose|Introduction|Importance|"
    r"Methods?|Methodology|Design|Settings?|Participants|Interventions?|Measures?|Measurements|"
    r"Main|Primary|Secondary|Outcomes?|Results?|Findings|Conclusions?|Discussion|Limitations|"
    r"Implications|Originality|Value|Approach|Data|Study|Research|Review|Evidence|Analysis|"
    r"Sources|Summary|Keywords|Trial|Practical|Social|Policy|Problem|Exposures?)"
    r"(?:(?: |/| and | & )[A-Za-z][a-z-]*){0,4})\s*:\s*(?=\S)"
)
_ZH_LABEL = re.compile(
    r"(?P<label>[\u4e00-\u9fff]{1,8}(?:[/／][\u4e00-\u9fff]{1,8}){0,3})\s*[:：]\s*(?=\S)"
)
_BULLET = re.compile(r"(?:[-•*–]\s)")
_LINKS_HEADING = re.compile(r"links?\s*:?", re.IGNORECASE)
_RELATED_HEADING = re.compile(
    r"related\b.*\b(?:posts?|articles?|blogs?|links?|reading|content|resources)\s*:?", re.IGNORECASE
)
_SENTENCE_END = (".", ":", ";", ",", "。", "：", "；", "，")


def _is_heading(text: str) -> bool:
    """A commentary's title line: short, with no final period or colon."""
    return len(text.split()) <= 10 and not text.endswith(_SENTENCE_END) and any(c.isalpha() for c in text)


# An address line: comma-separated parts, the last of them a country ("…, London, UK.").
_COUNTRIES = {
    "uk", "united kingdom", "england", "scotland", "wales", "northern ireland", "ireland",
    "usa", "us", "united states", "united states of america", "canada", "australia",
    "new zealand", "netherlands", "the netherlands", "germany", "france", "belgium",
    "luxembourg", "denmark", "sweden", "norway", "finland", "iceland", "spain", "portugal",
    "italy", "switzerland", "austria", "greece", "poland", "czech republic", "hungary",
    "china", "hong kong", "taiwan", "japan", "korea", "south korea", "singapore", "india",
    "south africa", "brazil", "israel",
}
_ORGANISATION = re.compile(
    r"\b(?:University|School|Department|Centre|Center|Institute|Fund|Trust|Group|Unit|College|"
    r"Faculty|Division|Hospital|Council|Foundation|Agency|Ministry|Network|Clinic|NHS)\b"
)


def _looks_like_address(text: str) -> bool:
    parts = text.split(",")
    if len(parts) < 2 or len(text.split()) > 60 or not _ORGANISATION.search(text):
        return False
    # The country may be followed by more sentences: "…, UK. Email." / "…, UK. Electronic address: …"
    country = parts[-1].strip().split(". ")[0].rstrip(". ").lower()
    return country in _COUNTRIES


def _segment(kind: str, line: _Line, label: str | None = None, body_start: int | None = None) -> Segment:
    return Segment(kind, line.start, line.end, line.text, label,
                   line.start if body_start is None else body_start)


def _labelled(kind: str, line: _Line, pattern: re.Pattern[str]) -> Segment:
    m = pattern.match(line.text)
    if m is None:
        return _segment(kind, line)
    return _segment(kind, line, m.group("label"), line.start + m.end())


def _affiliation(line: _Line, number: int) -> Segment:
    # "1 Department of …": the number is part of the line but not of the address. Only the
    # expected running number counts, so "10 Downing Street, …" keeps its 10.
    m = re.match(rf"{number}[.)]?\s+(?=\D)", line.text)
    return _segment("affiliation", line, body_start=line.start + (m.end() if m else 0))


def _find_citation(lines: list[_Line]) -> int | None:
    """Index of the citation line: the first line in PubMed citation form before the
    translation and before any Links section."""
    for i, line in enumerate(lines):
        if _is_translation(line.text) or _LINKS_HEADING.fullmatch(line.text):
            return None
        if is_citation_line(line.text):
            return i
    return None


def _header_end(lines: list[_Line]) -> int:
    """Without a citation line, the metadata block is the leading run of address and author
    lines, and only when it holds an address: a lone short capitalised line ("Key Findings")
    is more likely a heading than a name."""
    end = 0
    while end < len(lines) and (_looks_like_address(lines[end].text) or looks_like_author_line(lines[end].text)):
        end += 1
    if not any(_looks_like_address(line.text) for line in lines[:end]):
        return 0
    return end


def parse_record(text: str, path: Path) -> Record:
    """Sort the lines of an already-decoded record into its parts."""
    path = Path(path)
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text:
        raise RecordError(path, "empty file")
    if not text.strip():
        raise RecordError(path, "no text: only whitespace")
    lines = _lines(text)

    cited = _find_citation(lines)
    header_end = cited if cited is not None else _header_end(lines)
    affiliations: list[Segment] = []
    authors: list[Segment] = []
    for line in lines[:header_end]:
        # Before the citation line there is only metadata: what is not a name is an address.
        if looks_like_author_line(line.text):
            authors.append(_segment("author", line))
        else:
            affiliations.append(_affiliation(line, len(affiliations) + 1))
    citation = _segment("citation", lines[cited]) if cited is not None else None
    body = lines[header_end + (1 if cited is not None else 0):]

    paragraphs: list[Segment] = []
    translations: list[Segment] = []
    links: list[Segment] = []
    related: list[Segment] = []
    section = "body"
    for line in body:
        if _is_translation(line.text):
            translations.append(_labelled("translation", line, _ZH_LABEL))
        elif section != "related" and _RELATED_HEADING.fullmatch(line.text) and _is_heading(line.text):
            section = "related"
            related.append(_segment("related", line))
        elif section == "related":
            related.append(_segment("related", line))
        elif section == "links":
            links.append(_segment("link", line))
        elif _LINKS_HEADING.fullmatch(line.text):
            section = "links"  # the heading itself is neither abstract text nor a reference
        elif _BULLET.match(line.text):
            paragraphs.append(_segment("paragraph", line))
        elif (m := _CAPS_LABEL.match(line.text) or _TITLE_LABEL.match(line.text)) is not None:
            paragraphs.append(_segment("paragraph", line, m.group("label"), line.start + m.end()))
        elif _is_heading(line.text):
            paragraphs.append(_segment("heading", line))
        else:
            paragraphs.append(_segment("paragraph", line))

    return Record(
        path=path,
        name=path.name,
        text=text,
        affiliations=tuple(affiliations),
        authors=tuple(authors),
        citation=citation,
        paragraphs=tuple(paragraphs),
        translations=tuple(translations),
        links=tuple(links),
        related=tuple(related),
    )
