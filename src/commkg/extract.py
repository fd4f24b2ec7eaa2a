"""The extractor: one Record (plus the lexicon) → the RDF triples of that record.

A pure function of its inputs, so it can run over records in parallel. Every fact it asserts is
backed by a W3C Web Annotation pointing at the words of the record that support it
(docs/model.md describes the graph it builds).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import quote

from rdflib import Graph, Literal, Namespace, URIRef, namespace

from commkg.citation import parse_author_line, parse_citation, parse_cited_reference
from commkg.corpus import Record, Segment
from commkg.evidence import Annotation, annotation_triples
from commkg.lexicon import COMM, CONCEPT, CachedNamespace, CachedTerms, Concept, Lexicon, Match

RDF, RDFS, XSD, DCTERMS, FOAF, SKOS = (CachedTerms(vocabulary) for vocabulary in (
    namespace.RDF, namespace.RDFS, namespace.XSD, namespace.DCTERMS, namespace.FOAF, namespace.SKOS))
BIBO = CachedNamespace("http://purl.org/ontology/bibo/")
ORG = Namespace("https://w3id.org/commkg/org/")
JOURNAL = Namespace("https://w3id.org/commkg/journal/")
ID = "https://w3id.org/commkg/id/"

MONTHS = {m: i for i, m in enumerate(
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], start=1)}

# An institution's name, as opposed to a street, a town or a postcode in an affiliation line.
_INSTITUTION = re.compile(
    r"\b(University|College|School|Institute|Centre|Center|Fund|Trust|Group|Department|Unit|"
    r"Hospital|Foundation|Council|Agency|Division|Faculty|Authority|Service|Services|Office)\b")
# The regex engine scans for a leading character or character set in C, but tries a regex that
# starts with a look-behind or \b at every position of the text. Such patterns are slow to
# search: _NUMBER, _N_EQUALS and the study-period patterns run only where a digit, a "=" or a
# year is, and _SENTENCE_END matches the stop rather than looking behind for it.
_SENTENCE_END = re.compile(r"[.!?](?P<space>[\"'\u201d\u2019)]*\s+)(?=[A-Z\"'\u201c\u2018(\[])")
_ABBREVIATION = re.compile(r"(?:\b(?:approx|e\.g|i\.e|et al|vs|cf|Dr|St|No|Fig|ca|incl)\.|\b[A-Z]\.)$")
_NUMBER = re.compile(r"(?<![\w.,\-\u2013/£$€=])(\d{1,3}(?:,\d{3})+|\d+)(?![\w%]|[.,]\d|\s*%|[\-\u2013/]\d)")
_DIGIT = re.compile(r"\d")
_N_EQUALS = re.compile(r"\bn\s*=\s*(\d{1,3}(?:,\d{3})+|\d+)\b")
_PARTITIVE = re.compile(r"\s+of\s+(?:the|them|these|those|our|their|whom|which)\b", re.IGNORECASE)
_GAP_STOP = frozenset("""of the a an and or with in on at from by to for who whom which that were was are is
    had have has been than as per each between them their these those over under about across into
    we they it its this were not no all some many more most few other such after before also only
    just then there here up out down off within without through during against among around like very""".split())
_WINDOW_END = re.compile(r"[,.;:()\[\]]")
_YEAR = re.compile(r"(?:19|20)\d\d")  # what both study-period patterns hold
_YEAR_RANGE = re.compile(r"(?<![\d\-])((?:19|20)\d\d)\s*[-\u2013/]\s*((?:19|20)?\d\d)(?![\d\-])")
_MONTH_NAME = (r"(?:January|February|March|April|May|June|July|August|September|October|November|"
               r"December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)")
_BETWEEN_DATES = re.compile(
    rf"\b(?:between|from)\s+(?:{_MONTH_NAME}\s+)?((?:19|20)\d\d)\s+(?:and|to|until)\s+(?:{_MONTH_NAME}\s+)?((?:19|20)\d\d)\b")
_GAP_WORD = re.compile(r"[^\s]+")
_QUOTES = "'\"\u2018\u2019\u201c\u201d"
_MAX_GAP_WORDS = 4
_MAX_UNIT_WORDS = 12  # words a unit and the word after it may span, with room to spare (the longest has 3)
_MAX_WINDOW_CHARS = 1000  # and characters: a number and its unit are never this far apart


DOI_IRI = "https://doi.org/"
RECORD_NODES = (ID, DOI_IRI)  # where every record's own IRIs are (its study's, and under its base)


def record_iris(record: Record, doi: str | None) -> tuple[URIRef, str]:
    """The record's IRI and the base of the IRIs of everything local to it."""
    if doi:
        return URIRef(DOI_IRI + quote(doi, safe="/;:()")), f"{ID}doi/{quote(doi, safe='/;:()')}/"
    stem = quote(record.name.rsplit(".", 1)[0], safe="")
    return URIRef(f"{ID}record/{stem}"), f"{ID}record/{stem}/"


def is_study_iri(iri: str) -> bool:
    """Whether `iri` has the form of a record's own IRI from record_iris (and not of a node
    under some record's base)."""
    return iri.startswith(DOI_IRI) or (iri.startswith(f"{ID}record/") and "/" not in iri[len(ID) + len("record/"):])


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unnamed"


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentences of one paragraph as (start, end) offsets; abbreviations such as "approx." do not end one."""
    spans, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        end = m.start("space")
        # The abbreviation ends the sentence so far: its last 16 characters are enough to check
        # (the whole of it would make a paragraph of many abbreviations quadratic).
        if _ABBREVIATION.search(text[max(start, end - 16):end]):
            continue
        spans.append((start, end))
        start = m.end()
    spans.append((start, len(text)))
    return [(s, e) for s, e in spans if e > s]


@dataclass
class _Evidence:
    """Annotations being collected: one per span of the record's text, with every body it supports."""

    bodies: dict[tuple[int, int], set[URIRef]] = field(default_factory=lambda: defaultdict(set))

    def add(self, start: int, end: int, body: URIRef) -> None:
        self.bodies[(start, end)].add(body)

    def annotations(self, record: Record, study: URIRef, base: str) -> list[Annotation]:
        return [Annotation(f"{base}evidence/{start}-{end}", study, start, end, record.text[start:end], tuple(sorted(bodies)))
                for (start, end), bodies in sorted(self.bodies.items())]


class Extraction(NamedTuple):
    """What one record gives, in the parts the build handles apart (`extract` joins them). A
    named tuple of plain containers: build workers send thousands of them to the main process."""

    study: URIRef
    base: str  # the record base: every node local to the record is under it (record_iris)
    facts: tuple  # the record's triples, without its evidence and the concept descriptions
    concepts: tuple[str, ...]  # keys of the lexicon concepts used: lexicon.descriptions[key] describes each
    annotations: tuple[Annotation, ...]  # the evidence, in text order

    def is_local(self, subject) -> bool:
        """Whether only this record says things about `subject` (the study and its own nodes,
        not the concepts, journals and organisations that records share)."""
        text = str(subject)  # plain str comparisons: rdflib's == is a Python call
        return text.startswith(self.base) or text == str(self.study)

    def triples(self, lexicon: Lexicon) -> Iterator[tuple]:
        yield from self.facts
        for key in self.concepts:
            yield from lexicon.descriptions[key]
        for annotation in self.annotations:
            yield from annotation_triples(annotation)


class _RecordExtraction:
    """The state of one extraction; `extract()` is the way in."""

    def __init__(self, record: Record, lexicon: Lexicon):
        self.record = record
        self.lexicon = lexicon
        self.facts: set[tuple] = set()
        self.evidence = _Evidence()
        self.citation = parse_citation(record.citation.text) if record.citation else None
        doi = self.citation.doi.value if self.citation and self.citation.doi else None
        self.study, self.base = record_iris(record, doi)
        self.used_concepts: set[str] = set()
        self.asserted: set[tuple] = set()  # (property, object) facts of the study already backed by evidence
        self.actor_of: dict[str, URIRef] = {}  # concept key -> the actor standing for it, described once

    # -- helpers -------------------------------------------------------------------------------
    def add(self, s, p, o) -> None:
        self.facts.add((s, p, o))

    def fact(self, predicate: URIRef, obj: URIRef, start: int, end: int) -> None:
        """A study-level fact with its evidence; the first occurrence in the text is the one kept."""
        if (predicate, obj) in self.asserted:
            return
        self.asserted.add((predicate, obj))
        self.add(self.study, predicate, obj)
        self.evidence.add(start, end, obj)

    def body_text(self, segment: Segment) -> tuple[str, int]:
        return self.record.text[segment.body_start:segment.end], segment.body_start

    # -- the parts of a record -----------------------------------------------------------------
    def run(self) -> Extraction:
        self.add(self.study, RDF.type, COMM.Study)
        self.add(self.study, COMM.sourceFile, Literal(self.record.name))
        self.metadata()
        self.authors_and_affiliations()
        mentions = self.concepts()
        self.add(self.study, RDF.type, self.kind())
        self.actors(mentions)
        self.sample_sizes()
        self.study_period()
        self.cited_article()
        self.texts()
        return Extraction(study=self.study, base=self.base, facts=tuple(self.facts), concepts=tuple(sorted(self.used_concepts)),
                          annotations=tuple(self.evidence.annotations(self.record, self.study, self.base)))

    def metadata(self) -> None:
        c = self.citation
        if c is None:
            return
        offset = self.record.citation.start
        if c.doi:
            self.add(self.study, BIBO.doi, Literal(c.doi.value))
        if c.journal:
            journal = JOURNAL[slug(c.journal.value)]
            self.add(journal, RDF.type, BIBO.Journal)
            self.add(journal, DCTERMS.title, Literal(c.journal.value))
            self.fact(DCTERMS.isPartOf, journal, offset + c.journal.start, offset + c.journal.end)
        if c.year:
            issued = _date_literal(c.year.value, c.month.value if c.month else None, c.day.value if c.day else None)
            self.add(self.study, DCTERMS.issued, issued)
        for prop, part in ((BIBO.volume, c.volume), (BIBO.issue, c.issue), (BIBO.pages, c.pages)):
            if part:
                self.add(self.study, prop, Literal(part.value))
        if c.e_locator:
            self.add(self.study, COMM.eLocator, Literal(c.e_locator.value))
        if c.epub:
            self.add(self.study, COMM.epubDate, Literal(c.epub.value))
        self.evidence.add(self.record.citation.start, self.record.citation.end, self.study)

    def authors_and_affiliations(self) -> None:
        number = 0
        for segment in self.record.authors:
            for name in parse_author_line(segment.text):
                number += 1
                person = URIRef(f"{self.base}author/{number}")
                self.add(self.study, DCTERMS.creator, person)
                self.add(person, RDF.type, FOAF.Person)
                self.add(person, FOAF.familyName, Literal(name.family.value))
                full = name.family.value
                if name.given:
                    self.add(person, FOAF.givenName, Literal(name.given.value))
                    full = f"{name.given.value} {name.family.value}"
                self.add(person, FOAF.name, Literal(full))
                parts = [name.family] + ([name.given] if name.given else [])
                self.evidence.add(segment.start + min(p.start for p in parts),
                                  segment.start + max(p.end for p in parts), person)
        for segment in self.record.affiliations:
            text, start = self.body_text(segment)
            places = [key for match in self._matches(self.lexicon.concept_matcher, text) for key in match.payload
                      if self.lexicon.concept(key).category == "place"]
            for name, (s, e) in institutions(text):
                organisation = ORG[slug(name)]
                self.add(organisation, RDF.type, FOAF.Organization)
                self.add(organisation, RDFS.label, Literal(name))
                for key in places:
                    self.add(organisation, COMM.basedIn, self.lexicon.concept(key).iri)
                self.fact(COMM.affiliation, organisation, start + s, start + e)

    def concepts(self) -> list[tuple[int, int, tuple[str, ...]]]:
        """Concept facts of the text and the affiliation lines; returns the text's mentions for the actors."""
        mentions = []
        english = list(self.record.paragraphs)
        searched = english or list(self.record.translations)
        matcher = self.lexicon.concept_matcher if english else self.lexicon.chinese_matcher
        for segment in searched:
            text, offset = self.body_text(segment)
            for match in self._matches(matcher, text):
                keys = match.payload
                for key in keys:
                    concept = self.lexicon.concept(key)
                    self.fact(concept.fact_property, concept.iri, offset + match.start, offset + match.end)
                    self.used_concepts.add(key)
                mentions.append((offset + match.start, offset + match.end, keys))
        for segment in self.record.affiliations:
            text, offset = self.body_text(segment)
            for match in self._matches(self.lexicon.concept_matcher, text):
                for key in match.payload:
                    concept = self.lexicon.concept(key)
                    prop = COMM.authoredIn if concept.category == "place" else COMM.mentionsConcept
                    self.fact(prop, concept.iri, offset + match.start, offset + match.end)
                    self.used_concepts.add(key)
        # Every concept used above has evidence in this record, and only these do. Said once more
        # as comm:namesConcept, which no rule infers, so that a query on asserted + inferred can
        # tell them from what the reasoner adds (England for a study set in Manchester).
        for key in self.used_concepts:
            self.add(self.study, COMM.namesConcept, self.lexicon.concept(key).iri)
        return mentions

    def _matches(self, matcher, text: str) -> list[Match]:
        """Matches that name concepts; a cued form counts only when its sentence has one of its cues."""
        found = []
        spans = None
        for match in matcher.find(text):
            if not match.payload:
                continue  # an excluded phrase: it only blocks what it overlaps
            if match.cued:
                spans = spans or sentence_spans(text)
                sentence = next(text[s:e] for s, e in spans if s <= match.start < e).lower()
                cues = {cue for key in match.payload for cue in self.lexicon.concept(key).cues}
                if not any(cue.lower() in sentence for cue in cues):
                    continue
            found.append(match)
        return found

    def kind(self) -> URIRef:
        if self.record.is_commentary:
            return COMM.Commentary
        methods = {o for p, o in self.asserted if p == COMM.usesMethod}
        fieldwork = {CONCEPT.Interview, CONCEPT.Survey, CONCEPT.Observation, CONCEPT.CaseStudy}
        if CONCEPT.SystematicReview in methods and not methods & fieldwork:
            return COMM.Review
        return COMM.Article

    def actors(self, mentions: list[tuple[int, int, tuple[str, ...]]]) -> None:
        """Per-study actors for the organisation types and roles the text names, and their relations."""
        actor_mentions = []
        for start, end, keys in mentions:
            actors = [self.actor(key) for key in keys if self.lexicon.concept(key).category in ("org", "role")]
            for actor in actors:
                self.fact(COMM.involvesActor, actor, start, end)
            if actors:
                actor_mentions.append((start, end, actors))
        actor_mentions.sort(key=lambda m: m[0])
        starts = [m[0] for m in actor_mentions]
        for paragraph in self.record.paragraphs:
            text, offset = self.body_text(paragraph)
            for s, e in sentence_spans(text):
                # Bisection: scanning every mention for every sentence is quadratic in a long record.
                first, last = bisect_left(starts, offset + s), bisect_right(starts, offset + e)
                in_sentence = [m for m in actor_mentions[first:last] if m[1] <= offset + e]
                if len(in_sentence) >= 2:
                    self.relations(text[s:e], offset + s, in_sentence)

    def actor(self, key: str) -> URIRef:
        actor = self.actor_of.get(key)
        if actor is not None:  # a record names its organisations again and again
            return actor
        concept: Concept = self.lexicon.concept(key)
        if concept.named_individual is not None:
            actor = URIRef(concept.named_individual)
        else:
            actor = URIRef(f"{self.base}actor/{key}")
        self.add(actor, RDF.type, concept.actor_class)
        self.add(actor, COMM.hasOrganisationType if concept.category == "org" else COMM.hasRole, concept.iri)
        self.add(actor, RDFS.label, Literal(concept.label) if concept.named_individual is not None
                 else Literal(f"{concept.label} ({self.record.name})"))
        self.actor_of[key] = actor
        return actor

    def relations(self, sentence: str, offset: int, mentions: list) -> None:
        """"A <cue> B" between two actor mentions of one sentence (cues are in the lexicon)."""
        # The mentions are in text order and do not overlap, so their ends are in order too.
        starts, ends = [x[0] for x in mentions], [x[1] for x in mentions]
        for prop, cue in self.lexicon.relation_cues:
            for m in cue.finditer(sentence):
                cue_start, cue_end = offset + m.start(), offset + m.end()
                before, after = bisect_right(ends, cue_start), bisect_left(starts, cue_end)
                if before == 0 or after == len(mentions):
                    continue
                subject_mention, object_mention = mentions[before - 1], mentions[after]
                for subject in subject_mention[2]:
                    for obj in object_mention[2]:
                        if subject == obj:
                            continue
                        self.add(subject, prop, obj)
                        self.evidence.add(subject_mention[0], object_mention[1], subject)
                        self.evidence.add(subject_mention[0], object_mention[1], obj)

    def sample_sizes(self) -> None:
        seen = set()
        for paragraph in self.record.paragraphs:
            text, offset = self.body_text(paragraph)
            for start, end, count, unit in self._counts(text):
                if (count, unit.iri) in seen:
                    continue
                seen.add((count, unit.iri))
                node = URIRef(f"{self.base}sample/{offset + start}-{offset + end}")
                self.add(node, RDF.type, COMM.SampleSize)
                self.add(node, COMM["count"], Literal(count))
                self.add(node, COMM.unit, unit.iri)
                self.add(node, RDFS.label, Literal(text[start:end]))
                self.add(unit.iri, SKOS.prefLabel, Literal(unit.label, lang="en"))
                self.add(unit.iri, SKOS.notation, Literal(unit.notation))
                self.fact(COMM.hasSampleSize, node, offset + start, offset + end)

    def _counts(self, text: str):
        """(start, end, count, unit) of every count of study units in one paragraph."""
        # From the first digit, if any: most paragraphs have none, and _NUMBER is slow to search.
        first_digit = _DIGIT.search(text)
        numbers = [] if first_digit is None else [
            (m.start(), m.end(), int(m.group(1).replace(",", ""))) for m in _NUMBER.finditer(text, first_digit.start())]
        if self.lexicon.number_word_pattern is not None:
            for m in self.lexicon.number_word_pattern.finditer(text):
                numbers.append((m.start(), m.end(), self.lexicon.number_words[m.group(0).lower()]))
        for start, end, count in sorted(numbers):
            if _PARTITIVE.match(text, end):
                continue
            unit_match = self._unit_after(text, end, year_like=1900 <= count <= 2099 and text[start:end].isdigit())
            if unit_match and count > 0:
                yield start, unit_match.end, count, unit_match.payload[0]
        if "=" not in text:
            return  # most paragraphs hold no "n = 12", and _N_EQUALS is slow to search
        for m in _N_EQUALS.finditer(text):
            participants = self.lexicon.units.get(URIRef("https://w3id.org/commkg/unit/Participant"))
            if participants:
                yield m.start(), m.end(), int(m.group(1).replace(",", "")), participants

    def _unit_after(self, text: str, position: int, *, year_like: bool) -> Match | None:
        """The unit a number counts: the furthest unit reachable over a few modifier words."""
        # The unit is within a few words of its number: look no further, or a long run of numbers
        # without punctuation ("12 12 12 …", "1;1;1;…") costs time quadratic in its length.
        end = min(len(text), position + _MAX_WINDOW_CHARS)
        for words, word in enumerate(_GAP_WORD.finditer(text, position, end), start=1):
            if words > _MAX_GAP_WORDS + _MAX_UNIT_WORDS:
                end = word.start()
                break
        window_end = _WINDOW_END.search(text, position, end)
        window = text[position: window_end.start() if window_end else end]
        best = None
        for match in self.lexicon.unit_matcher.find(window):
            gap = [w.strip(_QUOTES) for w in _GAP_WORD.findall(window[:match.start])]
            gap = [w for w in gap if w]
            if len(gap) > _MAX_GAP_WORDS or any(w.lower() in _GAP_STOP or w[0].isdigit() for w in gap):
                break
            if year_like and gap:
                break  # "2010 reform": a year, unless a unit follows it at once
            following = window[match.end:].split()
            if following and following[0].strip(_QUOTES).lower() in self.lexicon.unit_blockers:
                continue
            best = Match(position + match.start, position + match.end, match.payload)
        return best

    def study_period(self) -> None:
        for paragraph in self.record.paragraphs:
            text, offset = self.body_text(paragraph)
            if not _YEAR.search(text):
                continue  # most paragraphs hold none: then neither pattern (slow to search) can match
            found = []
            for regex in (_YEAR_RANGE, _BETWEEN_DATES):
                for m in regex.finditer(text):
                    first, last = int(m.group(1)), m.group(2)
                    last = int(last) if len(last) == 4 else (first // 100) * 100 + int(last)
                    if first < last <= first + 30:
                        found.append((m.start(), m.end(), first, last))
            if found:
                start, end, first, last = min(found)
                period = URIRef(f"{self.base}period")
                self.add(period, RDF.type, DCTERMS.PeriodOfTime)
                self.add(period, COMM.startYear, Literal(str(first), datatype=XSD.gYear))
                self.add(period, COMM.endYear, Literal(str(last), datatype=XSD.gYear))
                self.fact(COMM.studyPeriod, period, offset + start, offset + end)
                return

    def cited_article(self) -> None:
        """A commentary's Links section names the article it discusses."""
        number = 0
        for segment in self.record.links:
            reference = parse_cited_reference(segment.text)
            if reference is None or reference.journal is None:
                continue
            number += 1
            cited = URIRef(f"{self.base}cited/{number}")
            # Only "an academic article": a citation does not say whether it is research or a
            # review, and guessing would clash (disjoint classes) with the record it turns out to be.
            self.add(cited, RDF.type, BIBO.AcademicArticle)
            journal = JOURNAL[slug(reference.journal.value)]
            self.add(journal, RDF.type, BIBO.Journal)
            self.add(journal, DCTERMS.title, Literal(reference.journal.value))
            self.add(cited, DCTERMS.isPartOf, journal)
            if reference.title:
                self.add(cited, DCTERMS.title, Literal(reference.title.value))
            if reference.year:
                self.add(cited, COMM.citedYear, Literal(reference.year.value, datatype=XSD.gYear))
            if reference.volume:
                self.add(cited, BIBO.volume, Literal(reference.volume.value))
            if reference.e_locator:
                self.add(cited, COMM.eLocator, Literal(reference.e_locator.value))
            if self.record.is_commentary:
                self.fact(COMM.discusses, cited, segment.start, segment.end)
            else:
                self.fact(DCTERMS.references, cited, segment.start, segment.end)

    def texts(self) -> None:
        english = "\n".join(s.text for s in self.record.paragraphs if s.kind == "paragraph")
        chinese = "\n".join(s.text for s in self.record.translations)
        if english:
            self.add(self.study, DCTERMS.abstract, Literal(english, lang="en"))
            self.add(self.study, DCTERMS.language, Literal("en"))
        if chinese:
            self.add(self.study, COMM.translatedAbstract, Literal(chinese, lang="zh"))
            self.add(self.study, DCTERMS.language, Literal("zh"))

def institutions(line: str) -> list[tuple[str, tuple[int, int]]]:
    """The named organisations of one affiliation line: the last institution-like part before the address.

    "Manchester Business School, University of Manchester, Booth Street West, …" → University of Manchester.
    "Luxembourg Institute of Health and Luxembourg Institute of Socio-Economic Research, …" → both.
    """
    parts = [(m.group(0).strip(), m.start()) for m in re.finditer(r"[^,]+", line)]
    chosen = None
    for text, start in parts:
        if _INSTITUTION.search(text) and not re.search(r"\d", text):
            chosen = (text, start + (len(re.match(r"\s*", line[start:]).group(0))))
    if chosen is None:
        return []
    name, start = chosen
    name = name.rstrip(".")
    pieces, piece_start = [], 0
    for part in name.split(" and "):
        pieces.append((part, start + piece_start))
        piece_start += len(part) + len(" and ")
    if len(pieces) > 1 and all(_INSTITUTION.search(p) and p[:1].isupper() for p, _ in pieces):
        return [(p, (s, s + len(p))) for p, s in pieces]
    return [(name, (start, start + len(name)))]


def _date_literal(year: str, month: str | None, day: str | None) -> Literal:
    if month and month[:3] in MONTHS:
        if day:
            return Literal(f"{year}-{MONTHS[month[:3]]:02d}-{int(day):02d}", datatype=XSD.date)
        return Literal(f"{year}-{MONTHS[month[:3]]:02d}", datatype=XSD.gYearMonth)
    return Literal(year, datatype=XSD.gYear)


def extract_record(record: Record, lexicon: Lexicon) -> Extraction:
    """What one record gives: its facts, the concepts it uses and the evidence, apart."""
    return _RecordExtraction(record, lexicon).run()


def extract(record: Record, lexicon: Lexicon) -> Graph:
    """The asserted triples of one record: metadata, concepts, actors, sample sizes, their
    evidence, and a copy of the lexicon's description of each concept used, so that the
    record's graph describes itself."""
    graph = Graph()
    for triple in extract_record(record, lexicon).triples(lexicon):
        graph.add(triple)
    return graph
