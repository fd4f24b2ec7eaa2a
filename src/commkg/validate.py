"""SHACL validation of a build: is every record well formed (ontology/shapes.ttl)?

    asserted + evidence triples ──pySHACL──▶ report graph ──▶ [Violation] ──▶ readable lines

The shapes describe what the extractor writes, so they run on the asserted graph with its
evidence, without the ontology and without inference (and so without the reasoner's cost).
Each violation is named by its focus node, path and message, and by the record file it came
from (comm:sourceFile of the record the focus node belongs to), which is what a person fixes.

`commkg validate` checks a build's files; `commkg build` checks what it has just extracted
(`build_warnings`) and prints the same lines as warnings, for corpora up to
CHECKED_IN_BUILD_UP_TO_RECORDS records: pySHACL and rdflib's SPARQL are pure Python, about
40 ms a record even when each constraint is parsed only once (measured 2026-11, see
`_DataGraph`), which a long build should not pay on every run.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import rdflib
from rdflib import Literal, URIRef
from rdflib.namespace import SH

from commkg.errors import CommkgError
from commkg.evidence import Annotation, annotation_triples
from commkg.export import compact, load_build
from commkg.resources import ontology_file

Triple = tuple

COMM = rdflib.Namespace("https://w3id.org/commkg/ontology#")
OA = rdflib.Namespace("http://www.w3.org/ns/oa#")
SHAPES_FILE = "shapes.ttl"
DOI_IRI = "https://doi.org/"
ID_BASE = "https://w3id.org/commkg/id/"

# Measured: one record per run is the fastest. A SPARQL constraint runs once per focus node, and
# its cost grows with the graph it runs on (the evidence check looks up the annotations of a
# concept, and every record of the run names the same concepts).
RECORDS_PER_RUN = 1

# `commkg build` checks the shapes up to this many records (about 40 ms a record: 4 s at most,
# on a 3 s build); above it, it says so and leaves the check to `commkg validate`.
CHECKED_IN_BUILD_UP_TO_RECORDS = 100


class ValidationError(CommkgError):
    """The shapes or the build cannot be read (not: the build has violations)."""


@dataclass(frozen=True, order=True)
class Violation:
    source_file: str  # the record's file name, "" when the focus node belongs to no record
    focus: str
    path: str  # a prefixed name where one fits, "" for a node-level constraint
    message: str
    severity: str  # Violation, Warning or Info (the shapes use only Violation for now)

    def line(self) -> str:
        where = self.source_file or "(no record)"
        path = f" {self.path}" if self.path else ""
        return f"{where}: {compact(self.focus)}{path}: {self.message}"


@dataclass(frozen=True)
class ValidationReport:
    violations: tuple[Violation, ...]  # sorted by file, focus node, path, message

    @property
    def conforms(self) -> bool:
        return not any(v.severity == "Violation" for v in self.violations)

    def text(self) -> str:
        """The report for people: one line per violation, then a summary line."""
        lines = [v.line() for v in self.violations]
        if self.conforms and not lines:
            lines.append("conforms: every record is well formed")
        else:
            files = {v.source_file for v in self.violations}
            lines.append(f"{len(self.violations)} violation(s) in {len(files)} record(s)")
        return "\n".join(lines) + "\n"


def load_shapes(path: Path | None = None) -> rdflib.Graph:
    path = Path(path) if path else ontology_file(SHAPES_FILE)
    try:
        return rdflib.Graph().parse(path, format="turtle")
    except Exception as error:  # noqa: BLE001 - any parse failure means the same to the user
        raise ValidationError(f"cannot read the shapes {path}: {error}") from None


def validate_triples(triples: Iterable[Triple], *, shapes: rdflib.Graph | None = None,
                     records_per_run: int = RECORDS_PER_RUN) -> ValidationReport:
    """Validate asserted triples with their evidence (e.g. a build's merged asserted set).

    pySHACL runs on a few records at a time, not on the whole corpus: rdflib evaluates a SPARQL
    constraint for each focus node over the whole data graph, so one run over everything is
    quadratic in the corpus. The shapes only look inside one record (the record, its
    sample sizes, its evidence), so the runs give the same violations as one big run."""
    shapes = shapes if shapes is not None else load_shapes()
    violations: list[Violation] = []
    for part in _parts(triples, records_per_run):
        violations.extend(_validate_part(part, shapes))
    return ValidationReport(tuple(sorted(violations)))


class _DataGraph(rdflib.Graph):
    """The data graph of one run, whose SPARQL queries are parsed once per process.

    pySHACL hands each SPARQL constraint to query() as text, once per focus node, and rdflib
    parses the text every time: that parse was more than half the time of a record (0.17 s
    of 0.3 s, cProfile, 2026-11). The text is the same for every focus node (pySHACL binds
    $this with initBindings), so its parsed form is kept by text and reused."""

    _parsed: ClassVar[dict[str, object]] = {}

    def query(self, query_object, *args, **kwargs):
        if isinstance(query_object, str):
            parsed = self._parsed.get(query_object)
            if parsed is None:
                # Imported here: rdflib's SPARQL parser takes 0.1 s to load, and the build
                # imports this module for CHECKED_IN_BUILD_UP_TO_RECORDS alone.
                from rdflib.plugins.sparql import prepareQuery

                # With this graph's prefixes, as rdflib would parse the text (pySHACL also
                # writes the shapes' sh:declare prefixes into it).
                parsed = prepareQuery(query_object, initNs=dict(self.namespaces()))
                self._parsed[query_object] = parsed
            query_object = parsed
        return super().query(query_object, *args, **kwargs)


def _validate_part(triples: Iterable[Triple], shapes: rdflib.Graph) -> list[Violation]:
    import pyshacl  # imported here: a fifth of a second, paid only when something is validated

    data = _DataGraph()
    for triple in triples:
        data.add(triple)
    # advanced=False: the shapes use SHACL Core and SHACL-SPARQL constraints only, not SHACL-AF
    # (rules, functions, custom targets), and advanced mode copies the data graph every run.
    # inplace=True: the data graph was made for this run, so pySHACL need not copy it either.
    _, report, text = pyshacl.validate(data, shacl_graph=shapes, inference="none", advanced=False,
                                       inplace=True, allow_warnings=True)
    if not isinstance(report, rdflib.Graph):  # pySHACL's ValidationFailure: the shapes are wrong
        raise ValidationError(f"the shapes cannot be used: {text}")
    return list(_violations(report, data))


def _record_base(record: URIRef) -> str:
    """Where the IRIs local to a record start (docs/model.md, "record base")."""
    if record.startswith(DOI_IRI):
        return f"{ID_BASE}doi/{record[len(DOI_IRI):]}/"
    return f"{record}/"


def _parts(triples: Iterable[Triple], records_per_run: int) -> list[list[Triple]]:
    """The triples grouped by record (the record's own and those under its base), in runs of
    `records_per_run` records, plus one run of what belongs to no record."""
    triples = list(triples)
    records = sorted({s for s, p, _ in triples if p == COMM.sourceFile and isinstance(s, URIRef)})
    owner_of_base = {_record_base(record): number for number, record in enumerate(records)}
    owner_of_record = {record: number for number, record in enumerate(records)}
    runs: dict[int, list[Triple]] = defaultdict(list)
    unowned: list[Triple] = []
    for triple in triples:
        subject = triple[0]
        owner = owner_of_record.get(subject)
        if owner is None and isinstance(subject, URIRef) and subject.startswith(ID_BASE):
            # The base is a prefix of the subject ending in "/": try each, shortest first.
            cut = subject.find("/", len(ID_BASE))
            while owner is None and cut != -1:
                owner = owner_of_base.get(subject[:cut + 1])
                cut = subject.find("/", cut + 1)
        if owner is None:
            unowned.append(triple)
        else:
            runs[owner // records_per_run].append(triple)
    parts = [runs[key] for key in sorted(runs)]
    if unowned:
        parts.append(unowned)
    return parts


def validate_build(build_dir: Path, *, shapes_file: Path | None = None) -> ValidationReport:
    """Validate the asserted and evidence graphs of the build in `build_dir`."""
    graphs = load_build(Path(build_dir))
    return validate_triples(graphs["asserted"] | graphs["evidence"], shapes=load_shapes(shapes_file))


def _violations(report: rdflib.Graph, data: rdflib.Graph) -> Iterable[Violation]:
    for result in report.subjects(rdflib.RDF.type, SH.ValidationResult):
        focus = report.value(result, SH.focusNode)
        path = report.value(result, SH.resultPath)
        message = report.value(result, SH.resultMessage)
        severity = report.value(result, SH.resultSeverity)
        yield Violation(
            source_file=_source_file(data, focus),
            focus=str(focus),
            path=compact(str(path)) if isinstance(path, URIRef) else "",
            message=str(message) if message is not None else "does not conform",
            severity=str(severity).rsplit("#", 1)[-1] if severity is not None else "Violation",
        )


def _source_file(data: rdflib.Graph, focus) -> str:
    """The file of the record `focus` belongs to: its own comm:sourceFile, the one of a record
    that links to it (a sample size, an actor), or of the record an annotation targets."""
    candidates = [focus]
    candidates += [s for s in data.subjects(None, focus)]
    candidates += [data.value(target, OA.hasSource) for target in data.objects(focus, OA.hasTarget)]
    for candidate in candidates:
        if candidate is None:
            continue
        names = sorted(str(o) for o in data.objects(candidate, COMM.sourceFile) if isinstance(o, Literal))
        if names:
            return names[0]
    return ""


def build_warnings(facts: Iterable[Triple], annotations: Iterable[Annotation], *,
                   records: int) -> tuple[str, ...] | None:
    """What `commkg build` prints as SHACL warnings: the violations of a build's merged asserted
    triples (`facts`) and their evidence (`annotations`), one line each, sorted as `commkg
    validate` prints them for the same build; None (not checked) above
    CHECKED_IN_BUILD_UP_TO_RECORDS `records`. The build writes its output whatever they say."""
    if records > CHECKED_IN_BUILD_UP_TO_RECORDS:
        return None
    evidence = itertools.chain.from_iterable(annotation_triples(annotation) for annotation in annotations)
    report = validate_triples(itertools.chain(facts, evidence))
    return tuple(f"SHACL: {violation.line()}" for violation in report.violations)
