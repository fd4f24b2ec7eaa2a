"""The lexicon: ontology/lexicon.ttl read into matchers the extractor runs over a record's text.

Every surface form lives in lexicon.ttl; this module only knows how to turn a written form into
a pattern (case, hyphens, plurals) and how to pick the longest non-overlapping matches.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import NamedTuple

from rdflib import RDF, Graph, Literal, Namespace, URIRef
from rdflib.namespace import SKOS

from commkg.errors import LexiconError
from commkg.resources import ontology_file


class CachedNamespace(Namespace):
    """A Namespace that makes each of its terms once: rdflib's makes a new URIRef at every
    attribute access, and the extractor names about a hundred terms a record."""

    def __getattr__(self, name: str) -> URIRef:
        term = super().__getattr__(name)
        setattr(self, name, term)  # an instance attribute from now on: found without a call
        return term


class CachedTerms:
    """The terms of one of rdflib's closed vocabularies (RDF, RDFS, XSD …), each looked up once:
    rdflib checks the name and makes a new URIRef at every `RDF.type`."""

    def __init__(self, vocabulary) -> None:
        self._vocabulary = vocabulary

    def __getattr__(self, name: str) -> URIRef:
        if name.startswith("_"):  # not a term (and copy or pickle asking before __init__ ran)
            raise AttributeError(name)
        term = getattr(self._vocabulary, name)  # rdflib's check: RDF.tpye raises
        setattr(self, name, term)
        return term


COMM = CachedNamespace("https://w3id.org/commkg/ontology#")
CONCEPT = CachedNamespace("https://w3id.org/commkg/concept/")
UNIT = CachedNamespace("https://w3id.org/commkg/unit/")
LEX = CachedNamespace("https://w3id.org/commkg/lexicon#")

_SEPARATOR = r"[\s\-\u2010\u2011\u2013]*"  # a space or hyphen in a label: space, hyphen, dash or nothing
_APOSTROPHE = "['\u2019]"
_CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass(frozen=True)
class Concept:
    """One vocabulary key: a shared individual of the graph."""

    key: str
    iri: URIRef
    label: str  # the English skos:prefLabel
    category: str  # org, role, theory … (the scheme's skos:notation)
    concept_class: URIRef  # comm:Theory …
    fact_property: URIRef  # comm:usesTheory …
    actor_class: URIRef | None  # per-study actors of this kind are typed with it
    named_individual: URIRef | None  # or this one shared organisation stands for it
    cues: tuple[str, ...]  # cued labels count only in a sentence containing one of these


@dataclass(frozen=True)
class Unit:
    """A unit of study that sample sizes count (interviews, meetings, hours …)."""

    iri: URIRef
    notation: str
    label: str


class Match(NamedTuple):
    """One occurrence of a surface form. A named tuple: the matchers make one for every form that
    starts at a word, and a frozen dataclass takes twice as long to make."""

    start: int
    end: int
    payload: tuple  # what the surface form names: concept keys, a unit, or () for an excluded phrase
    cued: bool = False


def _word_pattern(word: str, *, plural: bool) -> str:
    """A regex for one word of a label; see the header of lexicon.ttl for the rules."""
    case_sensitive = any(ch.isupper() for ch in word)
    body = re.escape(word).replace("'", _APOSTROPHE).replace("\\'", _APOSTROPHE)
    body = body.replace("isation", "i[sz]ation").replace("ised", "i[sz]ed")
    if plural:
        if word.endswith("sis"):
            body = body[:-3] + "(?:sis|ses)"  # analysis → analyses
        elif re.search(r"[^aeiou]y$", word):
            body = body[:-1] + "(?:y|ies)"
        elif re.search(r"(?:s|x|ch|sh)$", word):
            body += "(?:es)?"
        elif word[-1:].isalpha():
            body += "s?"
    return body if case_sensitive else f"(?i:{body})"


def label_pattern(label: str) -> str:
    """The regex of an English surface form, matched as whole words."""
    words = [w for w in re.split(r"[\s\-]+", label.strip()) if w]
    parts = [_word_pattern(w, plural=(i == len(words) - 1)) for i, w in enumerate(words)]
    return _SEPARATOR.join(parts)


_WORD = re.compile(r"\w+")


class Matcher:
    """Finds the longest non-overlapping occurrences of many surface forms.

    Forms are grouped by the first letters of their first word, so at each word of the text
    only the few forms that can start there are tried: one regex per group, longest form first.
    """

    _PREFIX = 3  # letters of a form's first word that pick its group

    def __init__(self, forms: dict[str, tuple], *, cued: frozenset[str] = frozenset(), whole_words: bool = True):
        self._whole_words = whole_words
        self._payloads: list[tuple] = []
        self._cued: list[bool] = []
        grouped: dict[str, list[str]] = defaultdict(list)
        for i, form in enumerate(sorted(forms, key=lambda f: (-len(f), f))):
            self._payloads.append(forms[form])
            self._cued.append(form in cued)
            if whole_words:
                first_word = re.split(r"[\s\-]+", form.strip())[0]
                pattern = f"(?P<f{i}>{label_pattern(form)})(?!\\w)"
            else:
                first_word = form
                pattern = f"(?P<f{i}>{re.escape(form)})"
            grouped[first_word[: self._PREFIX].lower()].append(pattern)
        # Each group's regex is compiled the first time a text needs it: a build that extracts
        # one record (incremental.py) needs a fraction of them.
        self._groups: dict[str, str | re.Pattern] = {key: "|".join(patterns) for key, patterns in grouped.items()}
        self._prefix_lengths = sorted({len(key) for key in self._groups}, reverse=True)
        # Where a match may start: each word (whole-word forms), or each character that starts a
        # key. Both are found by a regular expression that begins with a character set, which
        # the regex engine scans for in C; the per-position tests below are Python.
        if whole_words:
            self._starts_at = _WORD
        else:
            first = {key[0] for key in self._groups}
            self._starts_at = re.compile(f"[{''.join(sorted(re.escape(c) for c in first))}]", re.IGNORECASE)

    def candidates(self, text: str) -> list[Match]:
        """Every position's longest match, even inside another candidate."""
        found = []
        groups, lengths = self._groups, self._prefix_lengths  # locals: this loop runs for every word
        for start in self._starts_at.finditer(text):
            position = start.start()
            for length in lengths:
                key = text[position: position + length].lower()
                group = groups.get(key)
                if group.__class__ is str:
                    group = groups[key] = re.compile(group)
                m = group.match(text, position) if group else None
                if m:
                    name = m.lastgroup
                    i = int(name[1:])
                    found.append(Match(position, m.end(name), self._payloads[i], self._cued[i]))
        return found

    def find(self, text: str) -> list[Match]:
        """Non-overlapping matches, longest first, in text order."""
        chosen: list[Match] = []
        # 1 where a chosen match lies: an overlap check costs the match's length, not the number
        # of matches chosen so far (quadratic in a long record).
        taken = bytearray(len(text))
        for match in sorted(self.candidates(text), key=lambda m: (m.start - m.end, m.start)):
            if not any(taken[match.start:match.end]):
                chosen.append(match)
                taken[match.start:match.end] = b"\x01" * (match.end - match.start)
        return sorted(chosen, key=lambda m: m.start)


@dataclass
class Lexicon:
    graph: Graph
    concepts: dict[str, Concept]
    units: dict[URIRef, Unit]
    concept_matcher: Matcher  # English forms → concept keys; excluded phrases → ()
    chinese_matcher: Matcher  # Chinese forms → concept keys
    unit_matcher: Matcher  # English forms → (Unit,)
    unit_blockers: frozenset[str]
    number_words: dict[str, int]
    relation_cues: list[tuple[URIRef, re.Pattern]]
    descriptions: dict[str, tuple[tuple, ...]]  # key → what the output says of the concept

    def concept(self, key: str) -> Concept:
        return self.concepts[key]

    @cached_property
    def number_word_pattern(self) -> re.Pattern | None:
        """Any of `number_words` as a whole word, longest first; None when there are none."""
        if not self.number_words:
            return None
        # One alternative per first letter, the words after it: the regex engine tries the
        # alternatives one by one at every word of every paragraph, and this halves its work.
        by_first_letter: dict[str, list[str]] = defaultdict(list)
        for word in sorted(self.number_words, key=len, reverse=True):
            by_first_letter[word[0]].append(re.escape(word[1:]))
        words = "|".join(f"{re.escape(letter)}(?:{'|'.join(rest)})" for letter, rest in by_first_letter.items())
        return re.compile(rf"(?<!\w)(?:{words})(?!\w)", re.IGNORECASE)


def _literals(graph: Graph, subject, predicate, lang: str | None = "en") -> list[str]:
    values = [o for o in graph.objects(subject, predicate) if isinstance(o, Literal)]
    return sorted(str(o) for o in values if lang is None or o.language in (lang, None))


def _forms_of(graph: Graph, subject, lang: str) -> list[str]:
    forms = []
    for prop in (SKOS.prefLabel, SKOS.altLabel, SKOS.hiddenLabel):
        forms += _literals(graph, subject, prop, lang)
    return forms


def _read_concepts(graph: Graph) -> dict[str, Concept]:
    schemes = {}
    for scheme in graph.subjects(RDF.type, SKOS.ConceptScheme):
        schemes[scheme] = (
            str(graph.value(scheme, SKOS.notation)),
            graph.value(scheme, LEX.conceptClass),
            graph.value(scheme, LEX.factProperty),
        )
    concepts = {}
    for iri in sorted(graph.subjects(RDF.type, SKOS.Concept)):
        key = str(graph.value(iri, SKOS.notation))
        scheme = graph.value(iri, SKOS.inScheme)
        if scheme not in schemes:
            raise LexiconError(f"concept {key} is in no known concept scheme")
        category, concept_class, fact_property = schemes[scheme]
        concepts[key] = Concept(
            key=key,
            iri=URIRef(iri),
            label=(_literals(graph, iri, SKOS.prefLabel) or [key])[0],
            category=category,
            concept_class=concept_class,
            fact_property=fact_property,
            actor_class=graph.value(iri, LEX.actorClass),
            named_individual=graph.value(iri, LEX.namedIndividual),
            cues=tuple(_literals(graph, iri, LEX.cue)),
        )
    return concepts


def _concept_forms(graph: Graph, concepts: dict[str, Concept], lang: str) -> tuple[dict[str, tuple], set[str]]:
    keys_of: dict[str, set[str]] = defaultdict(set)
    cued: set[str] = set()
    for key, concept in concepts.items():
        for form in _forms_of(graph, concept.iri, lang):
            keys_of[form].add(key)
        if lang == "en":
            for form in _literals(graph, concept.iri, LEX.cuedLabel):
                keys_of[form].add(key)
                cued.add(form)
    return {form: tuple(sorted(keys)) for form, keys in keys_of.items()}, cued


def load_lexicon(path: Path | None = None) -> Lexicon:
    """Read lexicon.ttl (the bundled one by default) and compile its matchers."""
    path = path or ontology_file("lexicon.ttl")
    return _load(str(path))


@lru_cache(maxsize=4)
def _load(path: str) -> Lexicon:
    graph = Graph()
    try:
        graph.parse(path, format="turtle")
    except (OSError, SyntaxError, ValueError) as exc:
        raise LexiconError(f"cannot read the lexicon {path}: {exc}") from exc
    concepts = _read_concepts(graph)

    english, cued = _concept_forms(graph, concepts, "en")
    for phrase in _literals(graph, None, LEX.excludedPhrase):
        english[phrase] = ()
    chinese, _ = _concept_forms(graph, concepts, "zh")

    units = {}
    unit_forms = {}
    for iri in sorted(graph.subjects(RDF.type, LEX.StudyUnit)):
        unit = Unit(URIRef(iri), str(graph.value(iri, SKOS.notation)), _literals(graph, iri, SKOS.prefLabel)[0])
        units[unit.iri] = unit
        for form in _forms_of(graph, iri, "en"):
            unit_forms[form] = (unit,)

    number_words = {str(graph.value(s, LEX.numberWord)).lower(): int(graph.value(s, RDF.value))
                    for s in graph.subjects(RDF.type, LEX.NumberWord)}
    relation_cues = []
    for cue in sorted(graph.subjects(RDF.type, LEX.RelationCue)):
        try:
            pattern = re.compile(str(graph.value(cue, LEX.pattern)), re.IGNORECASE)
        except re.error as exc:
            raise LexiconError(f"relation cue {cue} has a bad pattern: {exc}") from exc
        relation_cues.append((graph.value(cue, LEX.property), pattern))

    # what a reader of the output needs to know of a concept: its kinds, key, scheme and names
    described = (RDF.type, SKOS.notation, SKOS.inScheme, SKOS.prefLabel)
    descriptions = {key: tuple((c.iri, p, o) for p in described for o in sorted(graph.objects(c.iri, p)))
                    for key, c in concepts.items()}

    return Lexicon(
        graph=graph,
        concepts=concepts,
        units=units,
        concept_matcher=Matcher(english, cued=frozenset(cued)),
        chinese_matcher=Matcher(chinese, whole_words=False),
        unit_matcher=Matcher(unit_forms),
        unit_blockers=frozenset(w.lower() for w in _literals(graph, None, LEX.blockingWord)),
        number_words=number_words,
        relation_cues=relation_cues,
        descriptions=descriptions,
    )


def is_chinese(text: str) -> bool:
    return bool(_CJK.search(text))
