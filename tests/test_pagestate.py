"""commkg.pagestate: the page made from parts, and kept up to date from its saved state, is
byte for byte the page visual.render_page makes of the same triples.

Each corpus is cut into parts as the build cuts it (tests/page_parts.py). An update is given
what changed between two versions of a corpus: the studies of every part that differs or went,
the parts that are new or differ, and the shared triples when they differ."""

from __future__ import annotations

import json
import re
import sys
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commkg import pagestate, visual
from commkg.corpus import find_records, parse_record, read_record
from commkg.errors import CommkgError
from commkg.extract import extract_record
from commkg.lexicon import load_lexicon
from commkg.pagestate import PagePart, PageState, PageStateError, StalePageState, render_page_with_state, update_page
from commkg.resources import data_path

from page_parts import Corpus, corpus_of, extract_corpus

DEV = Path("/work/shared/corpus/dev")
HOSTILE = Path(__file__).parent / "data" / "hostile"
BENCH = Path(__file__).resolve().parent.parent / "bench"


def reference(corpus: Corpus) -> str:
    """The page as the build makes it today (build._stage_page)."""
    return visual.render_page(iter(corpus.triples), annotations=corpus.annotations)


def page_data(page: str) -> dict:
    block = re.search(r'<script type="application/json" id="commkg-data">(.*?)</script>', page, re.S)
    return json.loads(block.group(1))


def assert_same_page(made: str, expected: str) -> None:
    if made == expected:
        return
    a, b = page_data(made), page_data(expected)
    differ = [f"{key}.{sub}" if sub else key
              for key in b for sub in (b[key] if isinstance(b[key], dict) else [None])
              if (a.get(key) if sub is None else a.get(key, {}).get(sub)) != (b[key] if sub is None else b[key][sub])]
    raise AssertionError(f"the pages differ in {differ or 'their HTML around the data'}")


def changes(old: Corpus, new: Corpus) -> dict:
    """update_page's arguments for going from `old` to `new`, as the build works them out."""
    def key(part: PagePart):
        return part.studies, frozenset(part.triples), tuple(part.annotations)

    old_parts, new_parts = {key(p): p for p in old.parts}, {key(p): p for p in new.parts}
    removed = [study for k, part in old_parts.items() if k not in new_parts for study, _ in part.studies]
    added = [part for k, part in new_parts.items() if k not in old_parts]
    shared = None if set(old.shared) == set(new.shared) else new.shared
    return {"removed": removed, "added": added, "shared": shared}


def step(state: PageState, old: Corpus, new: Corpus) -> tuple[str, PageState]:
    """Update the page from `old` to `new` through a saved state, and check it against both
    ways of making the page from scratch."""
    html, state = update_page(PageState.loads(state.dumps()), **changes(old, new))
    expected = reference(new)
    assert_same_page(html, expected)
    assert_same_page(render_page_with_state(new.parts, new.shared)[0], expected)
    return html, state


# ------------------------------------------------------------------------------- corpora

@cache
def _lexicon():
    return load_lexicon()


@cache
def _extraction(name: str, text: str):
    return extract_record(parse_record(text, Path(name)), _lexicon())


def corpus_of_texts(texts: dict[str, str]) -> Corpus:
    """The corpus of records given by file name → text, in file-name order (as the build)."""
    extractions, seen = [], set()
    for name in sorted(texts):
        try:
            extraction = _extraction(name, texts[name])
        except CommkgError:
            continue
        study = str(extraction.study)
        key = study.casefold() if study.startswith("https://doi.org/") else study
        if key not in seen:
            seen.add(key)
            extractions.append(extraction)
    return corpus_of(extractions)


def texts_of(folder: Path) -> dict[str, str]:
    return {path.name: read_record(path).text for path in find_records(folder)}


@cache
def sample_texts() -> dict[str, str]:
    return texts_of(data_path("corpus"))


@cache
def pool_texts() -> dict[str, str]:
    """The sample and the dev records (29, four of them commentaries)."""
    texts = dict(sample_texts())
    if DEV.is_dir():
        texts.update(texts_of(DEV))
    return texts


@cache
def synthetic_texts(records: int) -> dict[str, str]:
    import tempfile

    sys.path.insert(0, str(BENCH))
    try:
        from generate_corpus import generate
    finally:
        sys.path.remove(str(BENCH))
    folder = Path(tempfile.mkdtemp(prefix=f"pagestate-{records}-"))
    generate(records, folder, seed=5)
    return texts_of(folder)


def commentaries(texts: dict[str, str]) -> list[str]:
    return [name for name, text in sorted(texts.items()) if parse_record(text, Path(name)).is_commentary]


def discussed(texts: dict[str, str], commentary: str) -> str:
    """The file name of the record the commentary discusses (they are one part)."""
    corpus = corpus_of_texts(texts)
    study = str(_extraction(commentary, texts[commentary]).study)
    part = corpus.by_study()[study]
    others = {s for s, _ in part.studies} - {study}
    assert others, f"{commentary} discusses no record of the corpus"
    return next(name for name in sorted(texts) if str(_extraction(name, texts[name]).study) in others)


def with_sentence(text: str, sentence: str) -> str:
    """The record with a sentence added to its first English paragraph."""
    record = parse_record(text, Path("x.txt"))
    end = record.paragraphs[0].end
    return text[:end] + " " + sentence + text[end:]


def unused_concept(texts: dict[str, str], name: str) -> tuple[str, str]:
    """(key, a sentence naming it) for a concept no record of `texts` uses, that the extractor
    finds when the sentence is added to record `name`."""
    corpus = corpus_of_texts(texts)
    used = {str(t[2]) for t in corpus.triples if str(t[1]).endswith("#namesConcept")}
    for concept in _lexicon().concepts.values():
        if str(concept.iri) in used or concept.cues or concept.category not in ("theory", "method", "condition"):
            continue
        sentence = f"It also concerns {concept.label}."
        if concept.key in _extraction(name, with_sentence(texts[name], sentence)).concepts:
            return concept.key, sentence
    raise AssertionError("no unused concept found")


# ------------------------------------------------------------------------ from scratch

def _full(texts: dict[str, str]) -> None:
    corpus = corpus_of_texts(texts)
    html, state = render_page_with_state(corpus.parts, corpus.shared)
    assert_same_page(html, reference(corpus))
    again, _ = update_page(PageState.loads(state.dumps()), removed=(), added=(), shared=None)
    assert_same_page(again, html)


def test_the_sample_page_is_the_same():
    _full(sample_texts())


@pytest.mark.skipif(not DEV.is_dir(), reason=f"no dev corpus at {DEV}")
def test_the_dev_corpus_page_is_the_same():
    _full(texts_of(DEV))


def test_the_hostile_records_page_is_the_same():
    corpus = corpus_of(extract_corpus(find_records(HOSTILE)))
    assert len(corpus.parts) >= 8  # the records that build
    html, _ = render_page_with_state(corpus.parts, corpus.shared)
    assert_same_page(html, reference(corpus))
    block = re.search(r'id="commkg-data">(.*?)</script>', html, re.S).group(1)
    assert "<" not in block and "<script>" in json.dumps(page_data(html), ensure_ascii=False)  # escaped data, still there


@pytest.mark.parametrize("records", [300, 600])
def test_a_synthetic_corpus_page_is_the_same(records):
    """300: the whole-graph spring layout (up to SPRING_LAYOUT_MAX_NODES nodes) and the full
    view; 600: neither, and the study network view (from STUDY_VIEW_FROM studies on)."""
    texts = synthetic_texts(records)
    corpus = corpus_of_texts(texts)
    assert any(len(part.studies) > 1 for part in corpus.parts)  # commentaries with their articles
    html, _ = render_page_with_state(corpus.parts, corpus.shared)
    assert_same_page(html, reference(corpus))
    assert page_data(html)["view"] == ("studies" if records >= visual.STUDY_VIEW_FROM else "full")


def test_the_triples_indexed_first_as_they_come_make_the_same_page():
    """A build can index the triples while it reasons (PageIndex), then cut them into parts."""
    corpus = corpus_of_texts(pool_texts())
    index = pagestate.PageIndex(iter(reversed(corpus.triples)))
    parts = [PagePart(part.studies, (), part.annotations) for part in corpus.parts]  # triples not read again
    html, state = render_page_with_state(parts, corpus.shared, index=index)
    assert_same_page(html, reference(corpus))
    with pytest.raises(ValueError):
        render_page_with_state(parts, corpus.shared, index=index)


def test_an_empty_corpus():
    corpus = Corpus([], [], [], [])
    html, state = render_page_with_state([], [])
    assert_same_page(html, reference(corpus))
    assert len(state) == 0


# -------------------------------------------------------------------------- incremental

def _series(texts: dict[str, str], edits) -> list[str]:
    """Apply each edit (texts → new texts) in turn, updating the page each time; the pages."""
    old = corpus_of_texts(texts)
    html, state = render_page_with_state(old.parts, old.shared)
    pages = [html]
    for edit in edits:
        texts = edit(dict(texts))
        new = corpus_of_texts(texts)
        html, state = step(state, old, new)
        assert html != pages[-1], "the edit changed nothing on the page"
        pages.append(html)
        old = new
    return pages


def test_edits_of_one_record():
    texts = sample_texts()
    name = sorted(texts)[1]
    key, sentence = unused_concept(texts, name)

    def new_concept(t):  # a concept the record did not name (but others may)
        t[name] = with_sentence(t[name], "We draw on resource dependency theory and interviews.")
        return t

    def new_sample_size(t):
        t[name] = with_sentence(t[name], "We conducted 23 semi-structured interviews with commissioners.")
        return t

    def lost_concept(t):  # back to the record as it was: what the edits added is gone
        t[name] = sample_texts()[name]
        return t

    def concept_no_one_uses(t):  # a new node: the numbering of every node after it moves
        t[name] = with_sentence(t[name], sentence)
        return t

    pages = _series(texts, [new_concept, new_sample_size, lost_concept, concept_no_one_uses, lost_concept])
    iri = f"https://w3id.org/commkg/concept/{key}"
    assert [iri in page_data(page)["nodes"]["iri"] for page in pages] == [False, False, False, False, True, False]
    assert "23 semi-structured interviews" in pages[2] and "23 semi-structured interviews" not in pages[3]


def test_adding_and_deleting_records():
    texts = pool_texts()
    names = sorted(texts)
    start = {n: texts[n] for n in names[:-3]}

    def add(name):
        return lambda t: {**t, name: texts[name]}

    def delete(name):
        return lambda t: {n: v for n, v in t.items() if n != name}

    _series(start, [add(names[-1]), add(names[-2]), delete(names[0]), delete(names[-1]), add(names[0])])


def test_a_commentary_joins_and_leaves_the_part_of_the_article_it_discusses():
    texts = pool_texts()
    commentary = commentaries(texts)[0]
    article = discussed(texts, commentary)
    without = {n: v for n, v in texts.items() if n != commentary}

    def add_commentary(t):
        return {**t, commentary: texts[commentary]}

    def remove_commentary(t):
        return {n: v for n, v in t.items() if n != commentary}

    def remove_article(t):  # the commentary now discusses a work not in the graph
        return {n: v for n, v in t.items() if n != article}

    def add_article(t):
        return {**t, article: texts[article]}

    _series(without, [add_commentary, remove_commentary, add_commentary, remove_article, add_article])


def test_the_number_of_links_each_study_keeps_changes(monkeypatch):
    """Below MAX_STUDY_LINKS + 1 studies each keeps n - 1 links: deleting a study keeps fewer
    (the kept rows are cut), adding one keeps more (every row is done again). The budget is
    made small so that 60 studies cross a threshold of STUDY_EDGE_BUDGET // n too."""
    texts = sample_texts()
    names = sorted(texts)
    _series(texts, [lambda t: {n: v for n, v in t.items() if n != names[2]},
                    lambda t: {n: v for n, v in t.items() if n != names[3]},
                    lambda t: {**t, names[2]: texts[names[2]]}])
    monkeypatch.setattr(visual, "STUDY_EDGE_BUDGET", 180)
    monkeypatch.setattr(pagestate, "STUDY_EDGE_BUDGET", 180)
    pool = synthetic_texts(300)
    few = {n: pool[n] for n in sorted(pool)[:60]}  # 180 // 60 = 3 links each, 180 // 61 = 2
    extra = sorted(pool)[60]
    corpus = corpus_of_texts(few)
    assert len({s for p in corpus.parts for s, _ in p.studies}) == 60
    _series(few, [lambda t: {**t, extra: pool[extra]}, lambda t: {n: v for n, v in t.items() if n != extra},
                  lambda t: {**t, extra: with_sentence(pool[extra], "We used a survey of 40 commissioners.")}])


def test_edits_across_the_study_view_threshold():
    """STUDY_VIEW_FROM studies: the view changes; an edit of a study that many others link to
    redoes their rows of the study network."""
    pool = synthetic_texts(600)
    names = sorted(pool)
    start = {n: pool[n] for n in names[:visual.STUDY_VIEW_FROM - 1]}
    nxt = names[visual.STUDY_VIEW_FROM - 1]
    hub = names[0]
    _series(start, [lambda t: {**t, nxt: pool[nxt]},
                    lambda t: {**t, hub: with_sentence(t[hub], "We used a survey and interviews in Manchester.")},
                    lambda t: {n: v for n, v in t.items() if n != nxt}])


EDIT_SENTENCES = (
    "We draw on resource dependency theory.",
    "We conducted 12 interviews with CCG managers.",
    "The study concerns diabetes and dementia in Manchester.",
    "Commissioners negotiated with NHS trusts and the voluntary sector.",
    "",
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(("toggle", "edit")), st.integers(0, 28), st.integers(0, len(EDIT_SENTENCES) - 1)),
                min_size=1, max_size=4))
def test_random_edit_sequences(steps):
    pool = pool_texts()
    names = sorted(pool)
    texts = {n: pool[n] for n in names[::2]}
    old = corpus_of_texts(texts)
    _, state = render_page_with_state(old.parts, old.shared)
    for action, which, sentence in steps:
        name = names[which % len(names)]
        if action == "toggle":
            texts = {n: v for n, v in texts.items() if n != name} if name in texts else {**texts, name: pool[name]}
        else:
            texts = {**texts, name: with_sentence(pool[name], EDIT_SENTENCES[sentence])}
        new = corpus_of_texts(texts)
        _, state = step(state, old, new)
        old = new


# ------------------------------------------------------------------- shared triples change

def test_a_journal_title_that_changes_redoes_the_citations_that_name_it():
    corpus = corpus_of_texts(sample_texts())
    _, state = render_page_with_state(corpus.parts, corpus.shared)
    title = next(t for t in corpus.shared if str(t[0]).startswith("https://w3id.org/commkg/journal/")
                 and str(t[1]).endswith("/title"))
    renamed = [t for t in corpus.shared if t != title] + [(title[0], title[1], type(title[2])("A Renamed Journal"))]
    triples = [t for t in corpus.triples if t != title] + [renamed[-1]]
    changed = Corpus(triples, corpus.annotations, corpus.parts, renamed)
    html, state = update_page(state, removed=(), added=(), shared=renamed)
    assert_same_page(html, reference(changed))
    assert "A Renamed Journal" in html


def test_shared_triples_that_change_what_a_kept_part_uses_make_the_state_stale():
    corpus = corpus_of_texts(sample_texts())
    _, state = render_page_with_state(corpus.parts, corpus.shared)
    rdt = "https://w3id.org/commkg/concept/ResourceDependencyTheory"
    untyped = [t for t in corpus.shared if not (str(t[0]) == rdt and str(t[1]).endswith("#type"))]
    assert len(untyped) < len(corpus.shared)
    with pytest.raises(StalePageState):
        update_page(state, removed=(), added=(), shared=untyped)


# ------------------------------------------------------------------------- bad arguments

def test_removing_half_a_part_or_an_unknown_study_is_refused():
    texts = pool_texts()
    corpus = corpus_of_texts(texts)
    _, state = render_page_with_state(corpus.parts, corpus.shared)
    pair = next(part for part in corpus.parts if len(part.studies) > 1)
    with pytest.raises(ValueError, match="rest of its part"):
        update_page(state, removed=[pair.studies[0][0]], added=(), shared=None)
    with pytest.raises(ValueError, match="not on the page"):
        update_page(state, removed=["https://example.org/nothing"], added=(), shared=None)
    with pytest.raises(ValueError, match="already on the page"):
        update_page(state, removed=(), added=[pair], shared=None)
    # the state is untouched by what was refused
    again, _ = update_page(state, removed=(), added=(), shared=None)
    assert_same_page(again, reference(corpus))


# ---------------------------------------------------------------------------- the file

@pytest.fixture(scope="module")
def saved() -> tuple[str, str]:
    corpus = corpus_of_texts(pool_texts())
    html, state = render_page_with_state(corpus.parts, corpus.shared)
    return html, state.dumps()


def test_a_saved_state_is_json_and_reads_back(saved):
    html, text = saved
    body = json.loads(text)
    assert body["format"] == pagestate.STATE_FORMAT
    state = PageState.loads(text)
    assert state.dumps() == text
    assert update_page(state, removed=(), added=(), shared=None)[0] == html


@pytest.mark.parametrize("damage", [
    lambda t: t[: len(t) // 2],  # cut short
    lambda t: t.replace("Commentary", "Commentarx", 1),  # one letter
    lambda t: t.replace('"version":1', '"version":2', 1),  # another version
    lambda t: json.dumps({"format": "something else"}),
    lambda t: "",
    lambda t: "not json at all",
    lambda t: t.replace('"sha256":"', '"sha256":"0', 1),
])
def test_a_damaged_or_foreign_state_is_refused(saved, damage):
    with pytest.raises(PageStateError) as refused:
        PageState.loads(damage(saved[1]))
    assert isinstance(refused.value, ValueError)


def _resealed(text: str, change) -> str:
    """The state with its body changed by `change` (a dict → None) and its digest made again:
    what someone could write on purpose."""
    import hashlib

    head, body = text.split(',"state":', 1)
    state = json.loads(body[:-1])
    change(state)
    body = json.dumps(state, ensure_ascii=False, separators=(",", ":"))
    head = head[: head.index('"sha256":"') + len('"sha256":"')] + hashlib.sha256(body.encode()).hexdigest() + '"'
    return head + ',"state":' + body + "}"


def test_a_state_that_does_not_hold_together_is_refused(saved):
    def bad_term(state):
        state["iris"] = state["iris"][:3]

    def bad_column(state):
        state["text"]["title"] = state["text"]["title"][:-1]

    def not_text(state):
        state["text"]["citation"][0] = {"__class__": "os.system"}

    def bad_table(state):
        state["edges"] = "!!!!"

    def out_of_range(state):
        state["k"] = 99

    for change in (bad_term, bad_column, not_text, bad_table, out_of_range):
        with pytest.raises(PageStateError):
            PageState.loads(_resealed(saved[1], change))


def test_text_from_a_state_stays_data_in_the_page(saved):
    payload = "</script><script>window.__pwned=1</script><!--"

    def hostile(state):
        state["text"]["title"][0] = payload
        state["text"]["en"][0] = payload

    html, _ = update_page(PageState.loads(_resealed(saved[1], hostile)), removed=(), added=(), shared=None)
    assert payload not in html
    assert page_data(html)["studies"]["title"][0] == payload
