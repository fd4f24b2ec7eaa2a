"""The corpus reader: every layout variant, every bad input, and the real records."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from commkg.citation import parse_author_line, parse_citation
from commkg.corpus import MAX_RECORD_BYTES, Record, Segment, find_records, parse_record, read_record
from commkg.errors import CommkgError, RecordError
from commkg.resources import data_path

RECORDS = Path(__file__).parent / "data" / "records"
LAYOUT = RECORDS / "layout"
BAD = RECORDS / "bad"


def segments(record: Record) -> list[Segment]:
    parts = [*record.affiliations, *record.authors, *record.paragraphs, *record.translations,
             *record.links, *record.related]
    return parts + ([record.citation] if record.citation else [])


def assert_offsets(record: Record) -> None:
    """Every segment points at its own words in the text, and no two segments overlap."""
    spans = []
    for s in segments(record):
        assert record.text[s.start:s.end] == s.text
        assert s.text == s.text.strip() and s.text
        assert s.start <= s.body_start <= s.end
        spans.append((s.start, s.end))
    spans.sort()
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert end <= start


def texts(items) -> list[str]:
    return [s.text for s in items]


# ----------------------------------------------------------------------------- real records

# name: (affiliations, authors, paragraphs, headings among them, translations, links, related)
EXPECTED_COUNTS = {
    "000_2fa6104f5f396216.txt": (1, 0, 6, 0, 6, 0, 0),
    "001_1980af955ea8e01a.txt": (1, 0, 4, 0, 4, 0, 0),
    "002_2719e0a05c64aa80.txt": (0, 0, 18, 3, 0, 1, 2),
    "003_9ccf18071d943299.txt": (1, 1, 1, 0, 1, 0, 0),
    "004_2d04737228db5739.txt": (2, 0, 5, 0, 5, 0, 0),
    "a01_pbc_barriers_sensemaking.txt": (1, 0, 4, 0, 4, 0, 0),
    "a03_ccg_commissioning_support.txt": (3, 0, 4, 0, 4, 0, 0),
    "a05_commentary_commissioning_support.txt": (0, 0, 11, 4, 0, 1, 0),
    "a07_alternative_primary_care_providers.txt": (0, 1, 4, 0, 3, 0, 0),
    "a09_coproduction_commissioning_decisions.txt": (3, 1, 7, 0, 7, 0, 0),
    "a11_mental_health_clinical_governance.txt": (0, 1, 4, 0, 0, 0, 0),
    "b01_cocommissioning_conflicts.txt": (3, 1, 6, 0, 6, 0, 0),
    "b03_phn_commissioning_model.txt": (3, 0, 4, 0, 0, 0, 0),
    "b05_stroke_centralisation.txt": (1, 0, 4, 0, 4, 0, 0),
    "b07_vanguard_local_evaluations.txt": (2, 1, 4, 0, 0, 0, 0),
    "b09_cervical_screening_commissioning.txt": (5, 1, 4, 0, 3, 0, 0),
    "b11_integration_governance_europe.txt": (0, 1, 6, 0, 0, 0, 0),
}

# The metadata of the bundled seeds (from their gold annotations), so that this runs anywhere.
SEED_METADATA = {
    "000_2fa6104f5f396216.txt": ("BMJ Open", 2013, "10.1136/bmjopen-2013-003341", []),
    "001_1980af955ea8e01a.txt": ("BMC Health Serv Res", 2013, "10.1186/1472-6963-13-S1-S4", []),
    "002_2719e0a05c64aa80.txt": (None, None, None, []),
    "003_9ccf18071d943299.txt": ("Aust J Prim Health", 2016, "10.1071/PY15067", ["Addicott R"]),
    "004_2d04737228db5739.txt": ("BMJ Open", 2019, "10.1136/bmjopen-2018-027622", []),
}


def metadata(record: Record) -> tuple:
    citation = parse_citation(record.citation.text) if record.citation else None
    authors = [n.initials_form for s in record.authors for n in parse_author_line(s.text)]
    if citation is None:
        return None, None, None, authors
    return (citation.journal.value, int(citation.year.value),
            citation.doi.value if citation.doi else None, authors)


def counts(record: Record) -> tuple:
    return (len(record.affiliations), len(record.authors), len(record.paragraphs),
            sum(p.kind == "heading" for p in record.paragraphs), len(record.translations),
            len(record.links), len(record.related))


def test_bundled_seeds() -> None:
    paths = find_records(data_path("corpus"))
    assert [p.name for p in paths] == sorted(SEED_METADATA)
    for path in paths:
        record = read_record(path)
        assert counts(record) == EXPECTED_COUNTS[path.name], path.name
        assert metadata(record) == SEED_METADATA[path.name], path.name
        assert_offsets(record)


def _shared_corpus() -> Path | None:
    """../shared/corpus beside the checkout (or $COMMKG_SHARED_CORPUS), where the gold lives."""
    configured = os.environ.get("COMMKG_SHARED_CORPUS")
    root = Path(configured) if configured else Path(__file__).resolve().parents[2] / "shared" / "corpus"
    return root if root.is_dir() else None


SHARED = _shared_corpus()
GOLD_RECORDS = sorted((SHARED.glob("*/*.txt"))) if SHARED else []


@pytest.mark.skipif(SHARED is None, reason="the shared corpus with gold annotations is not here")
def test_shared_corpus_is_complete() -> None:
    assert {p.name for p in GOLD_RECORDS} >= set(EXPECTED_COUNTS)


@pytest.mark.parametrize("path", GOLD_RECORDS, ids=[p.name for p in GOLD_RECORDS])
def test_against_gold(path: Path) -> None:
    gold = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    record = read_record(path)
    assert counts(record) == EXPECTED_COUNTS[path.name]
    assert metadata(record) == (gold["journal"], gold["year"], gold["doi"], gold["authors"])
    assert record.is_commentary == (gold["kind"] == "commentary")
    assert bool(record.translations) == ("zh" in gold["languages"])
    assert_offsets(record)


# ----------------------------------------------------------------------------- layout variants

def test_labelled_paragraphs() -> None:
    record = read_record(LAYOUT / "labelled.txt")
    labels = [p.label for p in record.paragraphs]
    assert labels == ["OBJECTIVES", "SETTING/PARTICIPANTS", "DESIGN/METHODOLOGY/APPROACH",
                      "MAIN OUTCOME MEASURE", "Conclusions", None]
    setting = record.paragraphs[1]
    assert record.text[setting.body_start:setting.end] == "Eight CCGs in England; 96 interviews."
    assert [t.label for t in record.translations] == ["目的", "设置/参与者"]
    assert record.text[record.translations[1].body_start:record.translations[1].end] == "英格兰的八个CCGs;96次访谈。"
    # a sentence ending in a colon is prose, not a heading
    assert record.paragraphs[-1].kind == "paragraph"
    assert_offsets(record)


def test_unlabelled_paragraph_body_starts_at_start() -> None:
    record = read_record(LAYOUT / "english_only.txt")
    assert all(p.label is None and p.body_start == p.start for p in record.paragraphs)


def test_numbered_affiliations() -> None:
    record = read_record(LAYOUT / "numbered_affiliations.txt")
    assert len(record.affiliations) == 3
    first = record.affiliations[0]
    assert first.text.startswith("1 Department")
    assert first.label is None
    assert record.text[first.body_start:first.end].startswith("Department of Health Services Research")
    assert record.text[record.affiliations[2].body_start:].startswith("Centre for Health Services Studies")
    assert record.citation is not None
    assert_offsets(record)


def test_unnumbered_affiliation_keeps_its_digits() -> None:
    record = parse_record("10 Downing Street, London, UK.\nBMC Health Serv Res. 2008;8:63.\nText.\n",
                          Path("x.txt"))
    assert record.affiliations[0].body_start == record.affiliations[0].start


def test_author_before_affiliation() -> None:
    record = read_record(LAYOUT / "author_first.txt")
    assert texts(record.authors) == ["Addicott Rachael"]
    assert texts(record.affiliations) == ["The King's Fund, 11-13 Cavendish Square, London, W1G 0AN, UK. Email."]
    assert parse_citation(record.citation.text).doi.value == "10.1071/PY15067"
    assert len(record.paragraphs) == 1 and len(record.translations) == 1
    assert_offsets(record)


def test_author_after_affiliations() -> None:
    record = read_record(LAYOUT / "author_after.txt")
    assert texts(record.authors) == ["Taylor-Phillips Sian"]
    assert len(record.affiliations) == 2
    assert record.paragraphs[0].label == "OBJECTIVES"
    assert_offsets(record)


def test_epub_without_doi() -> None:
    record = read_record(LAYOUT / "epub_no_doi.txt")
    citation = parse_citation(record.citation.text)
    assert citation.doi is None
    assert citation.epub.value == "2016 Jan 24"
    assert citation.pages.value == "156-65"
    assert len(record.affiliations) == 1 and len(record.paragraphs) == 1


def test_no_doi() -> None:
    record = read_record(LAYOUT / "no_doi.txt")
    citation = parse_citation(record.citation.text)
    assert citation.doi is None and citation.e_locator.value == "63"
    assert texts(record.authors) == ["Gask Linda"]
    assert record.affiliations == ()


def test_commentary_with_links_and_related() -> None:
    record = read_record(LAYOUT / "commentary.txt")
    assert record.is_commentary
    assert record.citation is None and record.affiliations == () and record.authors == ()
    assert [(p.kind, p.text[:12]) for p in record.paragraphs] == [
        ("paragraph", "Clinical com"),
        ("heading", "What they fo"),
        ("paragraph", "- Many CCGs "),
        ("paragraph", "• Some saw t"),
        ("heading", "Commentary"),
        ("paragraph", "What comes t"),
    ]
    assert [s.kind for s in record.links] == ["link"]
    assert record.links[0].text.endswith("BMJ Open, 2014, 4:e005970.")
    assert [s.kind for s in record.related] == ["related", "related"]
    assert record.related[0].text == "Related Commissioning Elf posts"
    # the Links heading is neither abstract text nor a reference
    assert "Links" not in texts(segments(record))
    assert_offsets(record)


def test_article_is_not_a_commentary() -> None:
    assert not read_record(LAYOUT / "labelled.txt").is_commentary


def test_translation_cut_off_mid_sentence() -> None:
    record = read_record(LAYOUT / "translation_cut.txt")
    assert len(record.translations) == 2
    last = record.translations[-1]
    assert last.text.endswith("形成了鲜明")
    assert last.end == len(record.text)  # no final line end in the file
    assert len(record.paragraphs) == 2
    assert parse_citation(record.citation.text).epub.value == "2013 May 24"
    assert_offsets(record)


def test_crlf_line_ends_are_kept() -> None:
    raw = (LAYOUT / "crlf.txt").read_bytes()
    assert b"\r\n" in raw  # the fixture itself must not have been converted on checkout
    record = read_record(LAYOUT / "crlf.txt")
    assert record.text == raw.decode("utf-8")
    assert texts(record.affiliations) == ["Queen Mary University of London, London, UK."]
    assert record.citation.text == "BMJ Open. 2013 Sep 6;3(9):e003341. doi: 10.1136/bmjopen-2013-003341."
    assert texts(record.paragraphs) == ["To examine the work of commissioning.",
                                        "Three 'commissioning communities' in England, 2010-2012."]
    assert texts(record.translations) == ["考察长期病患者的委托护理工作。"]
    assert not any("\r" in s.text for s in segments(record))
    assert_offsets(record)


def test_bom_is_removed_and_offsets_count_from_after_it() -> None:
    raw = (LAYOUT / "bom.txt").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    record = read_record(LAYOUT / "bom.txt")
    assert not record.text.startswith("\ufeff")
    assert record.affiliations[0].start == 0
    assert record.citation is not None
    assert_offsets(record)


def test_parse_record_also_drops_a_bom() -> None:
    record = parse_record("\ufeffHello there, this is a record.\n", Path("x.txt"))
    assert record.text.startswith("Hello") and record.paragraphs[0].start == 0


def test_english_only() -> None:
    record = read_record(LAYOUT / "english_only.txt")
    assert record.translations == () and record.citation is None and record.affiliations == ()
    assert [p.kind for p in record.paragraphs] == ["paragraph", "paragraph"]
    assert not record.is_commentary


def test_chinese_only() -> None:
    record = read_record(LAYOUT / "chinese_only.txt")
    assert record.paragraphs == () and record.affiliations == ()
    assert len(record.translations) == 2
    assert_offsets(record)


def test_no_citation_keeps_a_conservative_header() -> None:
    record = read_record(LAYOUT / "no_citation.txt")
    assert texts(record.affiliations) == ["Centre for Primary Care, University of Manchester, Manchester, UK."]
    assert texts(record.authors) == ["Coleman Anna"]
    # commas and "England" do not make a prose sentence an address
    assert record.paragraphs[0].text.startswith("We studied")
    assert [p.kind for p in record.paragraphs] == ["paragraph", "heading", "paragraph"]


def test_capitalised_first_line_without_address_is_a_heading() -> None:
    record = read_record(LAYOUT / "heading_first.txt")
    assert record.authors == () and record.affiliations == ()
    assert [p.kind for p in record.paragraphs] == ["heading", "paragraph"]


def test_record_identity() -> None:
    path = LAYOUT / "labelled.txt"
    record = read_record(path)
    assert record.path == path and record.name == "labelled.txt"


# ----------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("name,reason", [
    ("latin1.txt", "not UTF-8 text (invalid byte 0xe9 at offset 48); convert it to UTF-8"),
    ("empty.txt", "empty file"),
    ("bom_only.txt", "empty file"),
    ("whitespace.txt", "no text: only whitespace"),
    ("nul.txt", "binary file (contains NUL bytes)"),
    ("utf16.txt", "UTF-16 text; convert it to UTF-8"),
    ("utf16_nobom.txt", "UTF-16 text (no byte-order mark); convert it to UTF-8"),
])
def test_bad_input(name: str, reason: str) -> None:
    with pytest.raises(RecordError) as caught:
        read_record(BAD / name)
    assert caught.value.reason == reason
    assert caught.value.path == BAD / name
    assert name in str(caught.value)


def test_over_the_size_limit() -> None:
    path = LAYOUT / "labelled.txt"
    size = path.stat().st_size
    with pytest.raises(RecordError) as caught:
        read_record(path, max_bytes=100)
    assert caught.value.reason == f"file is {size} bytes, over the 100 bytes limit for one record"
    assert read_record(path, max_bytes=size).name == "labelled.txt"  # the limit itself is allowed


def test_size_message_in_megabytes(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    with path.open("wb") as stream:  # sparse: no need to write 2.5 MB
        stream.truncate(2_500_000)
    with pytest.raises(RecordError) as caught:
        read_record(path)
    assert caught.value.reason == "file is 2.5 MB, over the 2.0 MB limit for one record"
    assert MAX_RECORD_BYTES == 2_000_000


def test_missing_file() -> None:
    with pytest.raises(RecordError) as caught:
        read_record(RECORDS / "no-such-record.txt")
    assert caught.value.reason == "cannot read: No such file or directory"


def test_folder_instead_of_file() -> None:
    with pytest.raises(RecordError) as caught:
        read_record(LAYOUT)
    assert caught.value.reason == "a folder, not a record file"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "record.txt"
    os.mkfifo(fifo)
    with pytest.raises(RecordError) as caught:
        read_record(fifo)
    assert caught.value.reason == "not a regular file (a pipe, socket or device)"


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "r.txt"
    path.write_text("Some text.", encoding="utf-8")

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", refuse)  # running as root, chmod would not stop us
    with pytest.raises(RecordError) as caught:
        read_record(path)
    assert caught.value.reason == "cannot read: Permission denied"


def test_parse_record_refuses_blank_text() -> None:
    with pytest.raises(RecordError, match="only whitespace"):
        parse_record(" \r\n\t", Path("x.txt"))
    with pytest.raises(RecordError, match="empty file"):
        parse_record("", Path("x.txt"))


@pytest.mark.parametrize("text", [
    "\x0b\x0c\u2028odd separators\u2029 but text",
    "Links",
    "Links\nRelated posts\n",
    ":\n- \n•\n1 \n",
    "BMJ Open. 2013;3:e1.",
    "\ud7ff\uffff\U0010ffff",
])
def test_odd_text_never_raises_anything_else(text: str) -> None:
    assert_offsets(parse_record(text, Path("odd.txt")))


# ----------------------------------------------------------------------------- find_records

def test_find_records(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "deep").mkdir()
    (tmp_path / ".hidden").mkdir()
    for name in ["z.txt", "a.txt", "b/m.txt", "b/deep/a.txt", "b-c.txt", ".secret.txt",
                 ".hidden/x.txt", "notes.md", "b/x.TXT"]:
        (tmp_path / name).write_text("Some text.", encoding="utf-8")
    found = find_records(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "a.txt", "b/deep/a.txt", "b/m.txt", "b/x.TXT", "b-c.txt", "z.txt"]


def test_find_records_survives_a_symlink_loop(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "r.txt").write_text("Some text.", encoding="utf-8")
    (tmp_path / "sub" / "loop").symlink_to(tmp_path, target_is_directory=True)
    assert [p.name for p in find_records(tmp_path)] == ["r.txt"]


def test_find_records_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(CommkgError, match="does not exist"):
        find_records(tmp_path / "nowhere")


def test_find_records_on_a_file(tmp_path: Path) -> None:
    path = tmp_path / "r.txt"
    path.write_text("Some text.", encoding="utf-8")
    with pytest.raises(CommkgError, match="is not a folder"):
        find_records(path)


def test_mixed_script_lines() -> None:
    record = parse_record(
        "The word 委托 means commissioning in Chinese.\n"
        "NHS 信托和 CCG 委托\n",  # five Han characters outweigh six letters of acronyms
        Path("mixed.txt"),
    )
    assert texts(record.paragraphs) == ["The word 委托 means commissioning in Chinese."]
    assert texts(record.translations) == ["NHS 信托和 CCG 委托"]
