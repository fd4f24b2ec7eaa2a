"""Property-based tests (hypothesis) of the reader and the extractor, on input nobody wrote by hand:

- reading arbitrary bytes, or parsing arbitrary text, raises nothing but RecordError;
- a record's segments and every evidence offset point at the words they quote
  (record.text[start:end] == oa:exact for every annotation target);
- every graph the extractor makes serialises (the project's Turtle and N-Triples writers) and
  parses back, with rdflib and with Oxigraph's strict parser, to the same graph.

The text strategies mix real record lines, lexicon labels (en and zh), citation-like lines,
numbers and hostile characters, so that the extractor's paths are actually reached; pure random
text alone rarely names a concept. Examples are capped so that the suite stays quick.
"""

from __future__ import annotations

import codecs
import io
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rdflib import Literal, URIRef
from rdflib.namespace import SKOS

from commkg.corpus import find_records, parse_record, read_record
from commkg.errors import RecordError
from commkg.extract import extract
from commkg.lexicon import Match, load_lexicon
from commkg.resources import data_path
from commkg.writing import write_turtle

OA = rdflib.Namespace("http://www.w3.org/ns/oa#")
PREFIXES = {"comm": "https://w3id.org/commkg/ontology#", "concept": "https://w3id.org/commkg/concept/",
            "oa": str(OA), "xsd": "http://www.w3.org/2001/XMLSchema#"}

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

LEXICON = load_lexicon()
HOSTILE = Path(__file__).parent / "data" / "hostile"
SOURCE_LINES = sorted({
    line.strip()
    for path in [*find_records(data_path("corpus")), *sorted(HOSTILE.glob("*.txt"))]
    for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
})
LABELS = sorted({str(label) for p in (SKOS.prefLabel, SKOS.altLabel)
                 for label in LEXICON.graph.objects(None, p) if isinstance(label, Literal)})
ODD = ["\"", "\\", ">", "<", "'''", '"""', "\t", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\u2028",
       "\u202e", "\ufeff", "\u00a0", "{{data}}", "</script>", "@prefix", " . ", ";", ",", ":", "(", ")",
       "doi: 10.1234/x\"y", "e003341", "n = 12", "2010-2012", "Links", "Related posts"]
CITATIONS = st.builds(
    "{}. {} {};{}({}):{}. doi: 10.{}/{}.".format,
    st.sampled_from(["BMJ Open", "Health Policy", "J Health Serv Res Policy", "Soc Sci Med", "X"]),
    st.integers(1800, 2099), st.sampled_from(["", "Sep", "Jan 6", "Spring"]),
    st.integers(0, 999), st.integers(0, 99), st.sampled_from(["e003341", "1-20", "S4", "63"]),
    st.integers(1000, 999999999),
    st.text(st.characters(blacklist_categories=["Cs", "Zs", "Zl", "Zp", "Cc"]), min_size=1, max_size=30),
)
WORD = st.one_of(st.sampled_from(LABELS), st.sampled_from(ODD), st.integers(0, 10_000).map(str),
                 st.text(max_size=8))
LINE = st.one_of(
    st.sampled_from(SOURCE_LINES),
    CITATIONS,
    st.lists(WORD, max_size=25).map(" ".join),
    # a real line with arbitrary text spliced in somewhere
    st.tuples(st.sampled_from(SOURCE_LINES), st.integers(0, 400), st.text(max_size=20))
      .map(lambda t: t[0][:t[1]] + t[2] + t[0][t[1]:]),
    st.text(max_size=200),
)
RECORD_TEXT = st.builds(lambda lines, end, bom: bom + end.join(lines),
                        st.lists(LINE, max_size=14), st.sampled_from(["\n", "\r\n", "\r", "\n\n"]),
                        st.sampled_from(["", "\ufeff"]))


def _parse_or_refuse(text: str):
    try:
        return parse_record(text, Path("prop.txt"))
    except RecordError:
        return None


# ------------------------------------------------------------------------------ the reader

@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    # Module-scoped: hypothesis runs many examples per test call, and a function-scoped
    # tmp_path would be shared by all of them anyway.
    return tmp_path_factory.mktemp("properties") / "record.txt"


@FAST
@given(data=st.one_of(st.binary(max_size=3000), RECORD_TEXT.map(lambda t: t.encode("utf-8")),
                      RECORD_TEXT.map(lambda t: t.encode("utf-16")),
                      st.binary(max_size=200).map(lambda b: codecs.BOM_UTF8 + b)))
def test_reading_any_bytes_gives_a_record_or_a_record_error(scratch, data):
    scratch.write_bytes(data)
    try:
        record = read_record(scratch)
    except RecordError as error:
        assert error.path == scratch and error.reason and "\n" not in error.reason
        return
    # A record is the file's UTF-8 text with only a leading BOM removed, line ends untouched.
    expected = data.decode("utf-8")
    assert record.text == expected.removeprefix("\ufeff")


@FAST
@given(text=st.one_of(st.text(max_size=2000), RECORD_TEXT))
def test_parsing_any_text_gives_a_record_or_a_record_error_and_segments_point_at_their_words(text):
    record = _parse_or_refuse(text)
    if record is None:
        return
    segments = [*record.affiliations, *record.authors, *record.paragraphs, *record.translations,
                *record.links, *record.related, *([record.citation] if record.citation else [])]
    for segment in segments:
        assert record.text[segment.start:segment.end] == segment.text
        assert segment.start <= segment.body_start <= segment.end
        assert "\n" not in segment.text and "\r" not in segment.text


# ------------------------------------------------------------------------------ the extractor

def _evidence(graph: rdflib.Graph):
    for target in set(graph.subjects(OA.hasSelector, None)):
        selectors = list(graph.objects(target, OA.hasSelector))
        exact = [str(e) for s in selectors for e in graph.objects(s, OA.exact)]
        positions = [(int(graph.value(s, OA.start)), int(graph.value(s, OA.end)))
                     for s in selectors if graph.value(s, OA.start) is not None]
        yield target, exact, positions


def _ntriples(graph: rdflib.Graph) -> str:
    from commkg.export import ntriples_lines

    return "".join(ntriples_lines(graph))


def _turtle(graph: rdflib.Graph) -> str:
    stream = io.StringIO()
    write_turtle(stream, graph, PREFIXES)
    return stream.getvalue()


def _from_oxigraph(data: str, fmt) -> rdflib.Graph:
    graph = rdflib.Graph()
    for quad in ox.parse(data.encode("utf-8"), format=fmt):
        graph.add(tuple(_rdflib_term(term) for term in (quad.subject, quad.predicate, quad.object)))
    return graph


def _rdflib_term(term):
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return rdflib.BNode(term.value)
    if term.language:
        return Literal(term.value, lang=term.language)
    datatype = term.datatype.value
    return Literal(term.value, datatype=None if datatype.endswith("#string") else URIRef(datatype))


# One test for the extractor's three properties: extraction is the costly step, so each example
# is extracted once and checked three ways.
@FAST
@given(text=RECORD_TEXT)
def test_extraction_raises_nothing_offsets_point_at_the_quotes_and_the_graph_round_trips(text):
    record = _parse_or_refuse(text)
    if record is None:
        return
    graph = extract(record, LEXICON)  # anything raised here, even a CommkgError, is a bug

    # Evidence: every target's position selector cuts out exactly its quote selector's words.
    for target, exact, positions in _evidence(graph):
        assert len(exact) == 1 and len(positions) == 1, target
        (start, end), = positions
        assert 0 <= start < end <= len(record.text)
        assert record.text[start:end] == exact[0], (target, start, end)

    # Round trip through the writers the build and the exports use.
    turtle, ntriples = _turtle(graph), _ntriples(graph)
    expected = set(graph)
    assert not any(isinstance(term, rdflib.BNode) for triple in expected for term in triple)
    for name, parsed in (("rdflib turtle", rdflib.Graph().parse(data=turtle, format="turtle")),
                         ("rdflib nt", rdflib.Graph().parse(data=ntriples, format="nt")),
                         # Oxigraph is strict about IRIs and escapes where rdflib is lenient.
                         ("oxigraph turtle", _from_oxigraph(turtle, ox.RdfFormat.TURTLE)),
                         ("oxigraph nt", _from_oxigraph(ntriples, ox.RdfFormat.N_TRIPLES))):
        # No blank nodes (checked above), so isomorphic means equal as sets of triples.
        assert set(parsed) == expected, (name, expected ^ set(parsed))


# ------------------------------------------------------------------------------ the lexicon

def _every_position_candidates(matcher, text: str) -> list:
    """Matcher.candidates the plain way: try every word start (or every character) in turn."""
    found = []
    def word(c: str) -> bool:  # what \w matches
        return c.isalnum() or c == "_"
    starts = range(len(text)) if not matcher._whole_words else [
        i for i, c in enumerate(text) if word(c) and (i == 0 or not word(text[i - 1]))]
    for position in starts:
        for length in matcher._prefix_lengths:
            group = matcher._groups.get(text[position:position + length].lower())
            m = group.match(text, position) if group else None
            if m:
                i = int(m.lastgroup[1:])
                found.append(Match(position, m.end(m.lastgroup), matcher._payloads[i], matcher._cued[i]))
    return found


@FAST
@given(text=st.lists(st.one_of(WORD, st.sampled_from(LABELS).map(str.upper),
                                st.sampled_from(["İ", "K", "ſ", "Σ", "ß", "中", "-", "\n"])), max_size=30)
       .map("".join))
@example(text="由NHS 信托和nhs 信托委托")  # a Chinese form that starts with Latin capitals
def test_the_matchers_skip_no_position_where_a_form_starts(text):
    # The matchers look for forms only where a word (or a key's first character) starts,
    # found by a regular expression: the same matches as trying every position.
    for matcher in (LEXICON.concept_matcher, LEXICON.chinese_matcher, LEXICON.unit_matcher):
        assert matcher.candidates(text) == _every_position_candidates(matcher, text)
