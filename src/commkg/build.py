"""The build pipeline: a corpus folder → the asserted graph → the files in the output folder.

    find records → read + extract each (in parallel for long corpora) → merge → write

Reading and extraction are pure functions of one record and the lexicon, so they run in worker
processes; everything after the merge sees the records in the corpus's sorted order, so the
output does not depend on how the work was split. Reasoning (reason.py) runs on the merged
asserted triples and gives inferred.ttl, graph.ttl (asserted + inferred) and graph.trig (the
same in named graphs, docs/model.md).
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timezone
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import AbstractContextManager, closing, contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import NamedTuple, Protocol, TextIO, TypeVar

import rdflib
from rdflib import URIRef

from commkg import background, buildstate
from commkg.bulk import collector_paused
from commkg.cache import RecordCache
from commkg.corpus import find_records, read_record
from commkg.documents import SHARED, DocumentIndex, Fixed, Section, Text, write_pieces
from commkg.errors import CommkgError, RecordError
from commkg.evidence import Annotation, triple_count, turtle_entries
from commkg.extract import RECORD_NODES, extract_record, is_study_iri
from commkg.grouped import CorpusOwners, GroupReasoner, Locality, NotDecomposable, RecordReasoning, reason_records, split_by_owner
from commkg.lexicon import CONCEPT, UNIT, Lexicon, load_lexicon
from commkg.packing import Inference, PackedRecord, TermTable, pack, with_inference
from commkg.reason import _TYPE, STUDY_LINKS, Ontology, compile_ontology, inconsistencies, knowledge_test, reason_knowledge
from commkg.resources import data_path, ontology_file
from commkg.pagestate import PageIndex, PagePart, render_page_with_state
from commkg.writing import (Blocks, Staged, TurtleForms, append_to_staged, commit_files, discard_files, indented,
                            render, stage_files, subject_key)

Triple = tuple
T = TypeVar("T")

ASSERTED_FILE = "asserted.ttl"
INFERRED_FILE = "inferred.ttl"
GRAPH_FILE = "graph.ttl"
TRIG_FILE = "graph.trig"
PAGE_FILE = "graph.html"
PROVENANCE_FILE = "provenance.trig"
OUTPUT_FILES = (ASSERTED_FILE, INFERRED_FILE, GRAPH_FILE, TRIG_FILE, PAGE_FILE, PROVENANCE_FILE)  # as BuildReport.files lists them
GRAPH_BASE = "https://w3id.org/commkg/graph/"  # + ontology, asserted, inferred, evidence
_ID_BASE = "https://w3id.org/commkg/id/"

# Study-to-study links (comm:sharesTheoryWith …) grow with the square of the corpus: every pair
# of studies that used interviews is linked. Above this many records they are not materialised
# unless asked for; the saved queries join through the shared concept and do not need them.
STUDY_LINKS_UP_TO_RECORDS = 500

# Corpora at least this long are extracted in worker processes (when `workers` is not given)
# and are "long" for the CLI's progress bar: below it, starting the pool costs more than it saves.
PARALLEL_FROM_RECORDS = 50

# The prefixes the output files use (only those a file needs are written into it).
OUTPUT_PREFIXES: dict[str, str] = {
    "comm": "https://w3id.org/commkg/ontology#",
    "concept": "https://w3id.org/commkg/concept/",
    "unit": "https://w3id.org/commkg/unit/",
    "org": "https://w3id.org/commkg/org/",
    "journal": "https://w3id.org/commkg/journal/",
    "oa": "http://www.w3.org/ns/oa#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "dcterms": "http://purl.org/dc/terms/",
    "bibo": "http://purl.org/ontology/bibo/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "prov": "http://www.w3.org/ns/prov#",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}


class CorpusError(CommkgError):
    """The corpus argument is not a folder of records (missing, a file, unreadable, empty)."""


class OutputError(CommkgError):
    """The output folder cannot be made or written."""


class ProgressBar(Protocol):
    def update(self, n_steps: int) -> None: ...


# Called once with the number of records; returns the bar to advance once per record.
ProgressFactory = Callable[[int], AbstractContextManager[ProgressBar]]


@dataclass(frozen=True)
class BuildReport:
    corpus: Path
    out_dir: Path
    records_built: int
    errors: tuple[RecordError, ...]  # the records that were skipped, in corpus order
    triples: int  # in the asserted graph, after merging (shared concepts counted once)
    files: tuple[Path, ...] = field(default=())  # the files written, main output first
    records_extracted: int | None = None  # with --incremental, the records not taken from the cache
    inferred: int | None = None  # triples the reasoner added; None when it did not run
    study_links: bool = False  # whether study-to-study links were materialised
    shacl_checked: bool = False  # whether the records were checked against the SHACL shapes (validate.py)
    warnings: tuple[str, ...] = ()  # inconsistencies the reasoner found, then SHACL violations, one line each
    seconds: dict[str, float] = field(default_factory=dict)  # wall time of each stage, for benchmarks
    patched: bool = False  # with --incremental: the previous output was patched (incremental.py), not written anew
    not_patched: str | None = None  # with --incremental, when not patched: why
    unchanged: tuple[str, ...] = ()  # when patched: the output files left as they were (not in `files`)

    @property
    def records_failed(self) -> int:
        return len(self.errors)

    @property
    def asserted_file(self) -> Path:
        return self.out_dir / ASSERTED_FILE

    @property
    def main_file(self) -> Path:
        """The file most people load: graph.ttl, or asserted.ttl when reasoning was skipped."""
        return self.out_dir / (ASSERTED_FILE if self.inferred is None else GRAPH_FILE)


# --------------------------------------------------------------------------- per record

def extract_file(path: Path, lexicon: Lexicon | None = None, *, reason: bool = True) -> tuple[PackedRecord | None, str | None]:
    """(the record's extraction, None), or (None, the reason it was skipped). Runs in a worker
    process: it returns plain data (packing.py), since RecordError itself does not survive
    pickling and rdflib terms are dear to unpickle. With `reason`, the record's extraction
    carries what it infers alone (grouped.py), worked out here, in parallel."""
    try:
        record = read_record(path)
        lexicon = lexicon or load_lexicon()  # load_lexicon is cached per process
        extraction = extract_record(record, lexicon)
        local_facts, shared_facts = [], []
        for triple in extraction.facts:
            (local_facts if extraction.is_local(triple[0]) else shared_facts).append(triple)
        usable = _knowledge_test()
        knowledge = [triple for triple in extraction.facts if usable(triple)]  # sorted out here, in parallel
        # Rendered here, in parallel: the blocks of subjects no other record speaks of, and the
        # evidence (most of the output, of which only the text is needed).
        local = render(local_facts, OUTPUT_PREFIXES)
        entries, prefixes = turtle_entries(extraction.annotations, OUTPUT_PREFIXES)
        inference = None
        if reason:
            with suppress(NotDecomposable):  # the build finds it out again, and reasons as one whole
                inference = record_inference(knowledge, extraction.concepts, lexicon,
                                             Locality(str(extraction.study), extraction.base))
        packed = pack(extraction, local_facts=local_facts, shared_facts=shared_facts, knowledge=knowledge,
                      local_blocks=list(local.entries), evidence=entries, prefixes=prefixes | local.prefixes,
                      inference=inference)
    except RecordError as error:
        return None, error.reason
    except CommkgError as error:
        return None, str(error)
    except Exception as error:  # noqa: BLE001 - one record's bug must not sink the corpus
        return None, f"extraction failed ({type(error).__name__}: {error}); please report this bug"
    return packed, None


def record_inference(knowledge: Iterable[Triple], concepts: Iterable[str], lexicon: Lexicon,
                     locality: Locality) -> Inference:
    """What one record's knowledge (and the descriptions of its concepts) infers alone, split by
    owner, the blocks of its own part rendered. Raises NotDecomposable (grouped.py)."""
    found = _group_reasoner().reason(itertools.chain(knowledge, _described(concepts, lexicon)), [locality])
    (own,), shared = split_by_owner(found.inferred, [locality])
    blocks = render(own, OUTPUT_PREFIXES)
    return Inference(own, shared, found.exposures, list(blocks.entries), blocks.prefixes)


def _described(concepts: Iterable[str], lexicon: Lexicon) -> list[Triple]:
    """What the rules read of the lexicon's descriptions of `concepts`."""
    usable = _knowledge_test()
    return [t for key in concepts for t in lexicon.descriptions[key] if usable(t)]


class BuiltRecord(NamedTuple):
    """What the build keeps of each record it built, for reasoning record by record (grouped.py)."""

    path: Path
    locality: Locality
    knowledge: list[Triple]  # what the rules read of its facts (not of its concepts' descriptions)
    concepts: list[str]
    reasoning: RecordReasoning | None  # what it infers alone; None when not worked out
    inferred_prefixes: frozenset[str]  # the prefixes of the blocks of its own inferred triples
    # For an incremental build's state (buildstate.py):
    prefixes: tuple[str, ...]  # that its blocks and evidence use
    local_facts: int  # triples about its own subjects
    evidence_triples: int
    shared_facts: list[Triple]  # its facts about nodes that records share
    annotations: list[Annotation]


def owner_of(record: int, key: tuple, study: str) -> int:
    """The owner (documents.py) of a record's block: its study's block apart from the blocks of
    the nodes under its base, which sort elsewhere (a new block can come between the two)."""
    return 2 * record + (key[1] == study)


@dataclass
class AssertedGraph:
    """The merged extraction of a corpus: the facts as triples, the evidence apart."""

    ontology: Ontology  # what the facts will be reasoned with
    facts: set[Triple] = field(default_factory=set)  # records' facts + the descriptions of the concepts used
    shared: set[Triple] = field(default_factory=set)  # the facts about subjects records share, to render
    # Those of the facts that the rules use (reason.knowledge), each term the ontology's own object
    knowledge: set[Triple] = field(default_factory=set)
    annotations: list[Annotation] = field(default_factory=list)
    # Rendered by the workers, each list sorted once merged: (subject key, block, owner), the
    # owner from `owner_of` (documents.py)
    local_blocks: list[tuple] = field(default_factory=list)  # facts about records' own subjects
    evidence: list[tuple] = field(default_factory=list)
    inferred_blocks: list[tuple] = field(default_factory=list)  # what each record infers alone about its own subjects
    prefixes: set[str] = field(default_factory=set)  # that local_blocks and evidence use
    records: list[BuiltRecord] = field(default_factory=list)  # in corpus order

    def __post_init__(self) -> None:
        # One object per term for the whole corpus (bulk.py), the ontology's where it has one.
        self._terms = TermTable(seed=self.ontology.names)
        self._usable = knowledge_test(self.ontology)

    def add(self, record: PackedRecord, path: Path) -> None:
        unpacked = self._terms.unpack(record)
        before = len(self.facts)
        self.facts.update(unpacked.local_facts)  # no other record has facts about its subjects
        local_facts = len(self.facts) - before
        self.facts.update(unpacked.shared_facts)
        self.shared.update(unpacked.shared_facts)
        self.knowledge.update(unpacked.knowledge)
        self.annotations.extend(unpacked.annotations)
        number, study = len(self.records), str.__str__(unpacked.study)
        self.local_blocks.extend((key, text, owner_of(number, key, study)) for key, text in record.local_blocks)
        self.evidence.extend((key, text, 2 * number) for key, text in record.evidence)
        self.prefixes.update(record.prefixes)
        reasoning = None
        if record.exposures is not None:
            reasoning = RecordReasoning(set(unpacked.own_inferred) | set(unpacked.shared_inferred),
                                        frozenset(record.exposures), (unpacked.own_inferred, unpacked.shared_inferred))
            self.inferred_blocks.extend((key, text, owner_of(number, key, study)) for key, text in record.inferred_blocks)
        self.records.append(BuiltRecord(
            path, Locality(study, record.base), unpacked.knowledge, record.concepts, reasoning,
            frozenset(record.inferred_prefixes or ()), tuple(record.prefixes), local_facts,
            sum(triple_count(annotation) for annotation in unpacked.annotations), unpacked.shared_facts,
            unpacked.annotations))

    def add_shared(self, triples: Iterable[Triple]) -> None:
        """Add triples about subjects that records share (the lexicon's descriptions of concepts)."""
        intern = self._terms.intern
        for s, p, o in triples:
            triple = (intern(s), intern(p), intern(o))
            self.facts.add(triple)
            self.shared.add(triple)
            if self._usable(triple):
                self.knowledge.add(triple)

    def intern(self, triples: Iterable[Triple]) -> list[Triple]:
        intern = self._terms.intern
        return [(intern(s), intern(p), intern(o)) for s, p, o in triples]

    def sort(self) -> None:
        self.local_blocks.sort()
        self.evidence.sort()
        self.inferred_blocks.sort()

    @property
    def evidence_triples(self) -> int:
        return sum(triple_count(annotation) for annotation in self.annotations)

    def __len__(self) -> int:
        """Triples, as in asserted.ttl (evidence IRIs are per record, so none is counted twice)."""
        return len(self.facts) + self.evidence_triples


_DOI_IRI = "https://doi.org/"


def _same_study(study: str, path: Path, studies: dict[str, Path]) -> str | None:
    """Why the record is refused when an earlier record (in corpus order) already made its study
    IRI, else None. Two records with one DOI (or, without a DOI, one file name in two
    subfolders) would otherwise be merged silently into one study that mixes their facts."""
    # DOIs are case-insensitive: 10.1136/BMJOPEN-… and 10.1136/bmjopen-… are one publication.
    key = study.casefold() if study.startswith(_DOI_IRI) else study
    first = studies.setdefault(key, path)
    if first == path:
        return None
    if study.startswith(_DOI_IRI):
        return f"same DOI as {first.name}; one record per DOI, so this one was not merged into it"
    return f"same file name as {first}; records without a DOI are named by their file name, so rename one"


def _worker_count(records: int, workers: int | None) -> int:
    if workers is not None:
        return max(1, min(workers, records))
    if records < PARALLEL_FROM_RECORDS:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))  # the cores this process may use, not the machine's
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, records))


Result = tuple[PackedRecord | None, str | None]


def _results(paths: Sequence[Path], workers: int, *, reason: bool) -> Iterator[Result]:
    """extract_file over `paths`, in their order, in `workers` processes."""
    if workers == 1:
        lexicon = load_lexicon()
        return (extract_file(path, lexicon, reason=reason) for path in paths)
    return _pooled_results(paths, workers, reason=reason)


def _pooled_results(paths: Sequence[Path], workers: int, *, reason: bool) -> Iterator[Result]:
    executor = ProcessPoolExecutor(max_workers=workers)
    try:
        # Chunks amortise the inter-process round trip; map keeps the corpus order.
        chunk = max(1, min(32, len(paths) // (workers * 4)))
        yield from executor.map(partial(extract_file, reason=reason), paths, chunksize=chunk)
    except BrokenProcessPool:
        raise CommkgError("an extraction worker process died (out of memory?); "
                          "try again with fewer --workers, e.g. --workers 1") from None
    finally:
        # On --strict's first error (or Ctrl-C) drop the queued records instead of finishing them.
        executor.shutdown(wait=True, cancel_futures=True)


def _extract_all(paths: Sequence[Path], *, strict: bool, workers: int, bar: ProgressBar,
                 cache: RecordCache | None = None, lexicon: Lexicon,
                 reason: bool = True) -> tuple[AssertedGraph, list[RecordError], int]:
    """The merged extraction of every readable record, the errors, and how many records were
    built. With `strict`, the first error is raised instead (before anything is written). With
    a `cache`, unchanged records come from it and only the others are extracted. With
    `reason`, each record comes with what it infers alone (worked out here for a cached record
    that lacks it)."""
    asserted = AssertedGraph(_compiled_ontology())
    concepts: set[str] = set()
    errors: list[RecordError] = []
    built = 0
    studies: dict[str, Path] = {}  # study IRI (case-folded for DOIs) → the record that made it
    # closing(): on --strict's early exit, stop the workers now, not when the generator is collected.
    if cache is None:
        results = _results(paths, workers, reason=reason)
    else:  # as many workers as the (often few) changed records need
        results = cache.results(paths, lambda missing: _results(
            missing, min(workers, _worker_count(len(missing), None)), reason=reason))
    with closing(results) as results:
        for path, (record, why) in zip(paths, results):
            bar.update(1)
            if why is None:
                why = _same_study(record.terms[record.study], path, studies)
            if why is not None:
                error = RecordError(path, why)
                if strict:
                    raise error
                errors.append(error)
                continue
            if reason and record.exposures is None:
                record = completed(record, lexicon)
            asserted.add(record, path)
            concepts.update(record.concepts)
            built += 1
    for key in sorted(concepts):  # once for the corpus, not once per record that uses the concept
        asserted.add_shared(lexicon.descriptions[key])
    asserted.sort()
    return asserted, errors, built


def completed(record: PackedRecord, lexicon: Lexicon) -> PackedRecord:
    """`record` with what it infers alone (a cache entry made without reasoning), where that
    can be worked out (grouped.NotDecomposable: not)."""
    unpacked = TermTable().unpack(record)
    try:
        inference = record_inference(unpacked.knowledge, record.concepts, lexicon,
                                     Locality(str(unpacked.study), record.base))
    except NotDecomposable:
        return record
    return with_inference(record, inference)


# --------------------------------------------------------------------------- the corpus

def _record_paths(corpus: Path) -> list[Path]:
    if not corpus.exists():
        raise CorpusError(
            f"corpus folder {corpus} does not exist; give a folder of .txt records "
            "(or no folder, for the bundled sample)")
    if not corpus.is_dir():
        raise CorpusError(f"corpus {corpus} is not a folder; give the folder that holds the .txt records")
    try:
        paths = find_records(corpus)
    except CommkgError as error:  # e.g. a subfolder that cannot be read
        raise CorpusError(str(error)) from None
    if not paths:
        raise CorpusError(f"corpus folder {corpus} holds no .txt records; put one record per .txt file in it")
    return paths


def _check_out_dir(out_dir: Path) -> None:
    # Before the (possibly long) extraction: fail on a bad --out while it is cheap to.
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"output {out_dir} is a file, not a folder; give a folder with --out")


@contextmanager
def _output_errors(out_dir: Path) -> Iterator[None]:
    try:
        yield
    except OSError as error:
        where = error.filename or out_dir
        raise OutputError(f"cannot write {where}: {error.strerror or error}; "
                          "check the folder's permissions and free space, or give another --out") from None


def _make_out_dir(out_dir: Path) -> None:
    with _output_errors(out_dir):
        out_dir.mkdir(parents=True, exist_ok=True)


@contextmanager
def _cleaned_up(job: background.Job[T], *,
                staged: Callable[[T], list[Staged]] = lambda result: result) -> Iterator[background.Job[T]]:
    """`job` (background.py), which stages output files: `staged(result)`, whose temporaries
    are removed if the build fails before they are renamed into place."""
    try:
        yield job
    except BaseException:
        with suppress(Exception):  # the build's own failure is the one to report
            discard_files(staged(job.result()))
        raise


def _write_outputs(out_dir: Path, writers: dict[str, Callable[[TextIO], None]], *,
                   also: Sequence[Callable[[], list[Staged]]]) -> tuple[Path, ...]:
    """Write `writers`' files into `out_dir`, with the files the calls in `also` staged
    elsewhere: all of them, or none."""
    staged: list[Staged] = []
    try:
        with _output_errors(out_dir):
            staged += stage_files({out_dir / name: write for name, write in writers.items()})
            for more in also:
                staged += more()
            staged.sort(key=lambda item: OUTPUT_FILES.index(item[0].name))
            return tuple(commit_files(staged))
    except BaseException:
        discard_files(staged)
        raise


def build_corpus(
    corpus: Path | None,
    out_dir: Path,
    *,
    strict: bool = False,
    workers: int | None = None,
    progress: ProgressFactory | None = None,
    incremental: bool = False,
    reason: bool = True,
    study_links: bool | None = None,
) -> BuildReport:
    """Build the graph of every record under `corpus` (None: the bundled sample) into `out_dir`.

    A record that cannot be read is skipped and listed in the report's `errors`; with `strict`
    the first one is raised (a RecordError) and nothing is written. `workers` is the number of
    extraction processes (None: one per core for long corpora, else one); with more than one,
    forked processes also write the page and the files that need no reasoning beside the
    reasoning (background.py; on Linux). `progress(total)`
    returns a context manager whose `.update(1)` is called once per record. With `incremental`,
    records unchanged since the last incremental build into `out_dir` are taken from its cache
    (`out_dir/.cache`, cache.py) instead of being extracted again; the output is the same.
    With `reason` (the default) the OWL 2 RL reasoner adds inferred.ttl, graph.ttl and
    graph.trig; `study_links` materialises the study-to-study links (None: up to
    STUDY_LINKS_UP_TO_RECORDS records). Up to validate.CHECKED_IN_BUILD_UP_TO_RECORDS records,
    the asserted graph is checked against the SHACL shapes; violations are `warnings` (after the
    reasoner's) and do not stop the build.
    Raises CorpusError for a corpus that is not a folder of records, OutputError when the output
    cannot be written; previous output files are left intact in every failure.
    """
    started = datetime.now(timezone.utc)
    corpus = Path(corpus) if corpus is not None else data_path("corpus")
    out_dir = Path(out_dir)
    paths = _record_paths(corpus)
    _check_out_dir(out_dir)
    workers = _worker_count(len(paths), workers)
    seconds: dict[str, float] = {}
    with collector_paused():
        lexicon = load_lexicon()
        not_patched = None
        if incremental and reason and study_links is not True:
            from commkg.incremental import patch_build  # it imports this module

            patched, not_patched = patch_build(corpus, out_dir, paths, strict=strict, workers=workers,
                                               progress=progress, started=started, lexicon=lexicon,
                                               study_links=study_links, seconds=seconds)
            if patched is not None:
                return patched
        elif incremental:
            not_patched = "without reasoning, or with study-to-study links, the output is written anew"

    # validate imports export, which imports build: not at the top. And not in _build_corpus: the
    # frames of a first import stay alive until the next garbage collection, and would keep that
    # frame's millions of triples with them (at 10,000 records, 3 s more to free them).
    from commkg.validate import build_warnings

    with collector_paused():
        return _build_corpus(corpus, out_dir, paths, strict=strict, workers=workers, progress=progress,
                             incremental=incremental, reason=reason, study_links=study_links,
                             validation=build_warnings, started=started, lexicon=lexicon, seconds=seconds,
                             not_patched=not_patched)


def _build_corpus(corpus: Path, out_dir: Path, paths: list[Path], *, strict: bool, workers: int,
                  progress: ProgressFactory | None, incremental: bool, reason: bool,
                  study_links: bool | None, validation: Callable, started: datetime, lexicon: Lexicon,
                  seconds: dict[str, float], not_patched: str | None) -> BuildReport:
    lap = _stopwatch(seconds)
    cache = RecordCache(out_dir) if incremental else None
    parallel = workers > 1  # the build may use more than one process
    # Each record's own inference is worked out with it (in the workers) where the build will
    # reason record by record: without the study links, which tie every record to every other.
    alone = reason and (study_links is False or (study_links is None and len(paths) > STUDY_LINKS_UP_TO_RECORDS))
    with (progress(len(paths)) if progress else nullcontext(_NoProgress())) as bar:
        asserted, errors, built = _extract_all(
            paths, strict=strict, workers=workers, bar=bar, cache=cache, lexicon=lexicon, reason=alone)
    lap("extract")

    facts = asserted.facts
    inferred, warnings, compiled = None, (), None
    if study_links is None:
        study_links = built <= STUDY_LINKS_UP_TO_RECORDS
    ontology = _ontology() if reason else None
    _make_out_dir(out_dir)
    # When the build is parallel, two forked copies of this process (background.py) write the
    # output while this one reasons: one the Turtle files, as far as they go without the inferred
    # triples; the other the page, which indexes the asserted triples meanwhile, at a lower
    # priority (in the time the other two leave a core idle). Both receive the inferred triples
    # to finish. At 10,000 records reasoning, the page and the Turtle files take some 10 s each.
    turtle_writer = partial(_write_turtle, asserted, out_dir, ontology)
    page_writer = partial(_stage_page, out_dir, asserted)
    with _cleaned_up(background.start_receiving(turtle_writer, fork=parallel),
                     staged=lambda turtle: turtle.staged) as turtle_job, \
         _cleaned_up(background.start_receiving(page_writer, fork=parallel, nice=_PAGE_NICENESS),
                     staged=lambda page: page[0]) as page_job:
        if reason:
            compiled = asserted.ontology
            inference = _infer(asserted, lexicon, study_links=study_links)
            inferred = inference.triples
            lap("reason")
        page_job.send(None if inferred is None else PageInput(
            inferred, inference.groups, inference.blocks.shared if inference.groups is not None else None))
        turtle_job.send(inference.blocks if reason else None)
        found = []
        if reason:
            found = inconsistencies(facts, inferred, compiled, annotations=asserted.annotations)
            warnings = tuple(str(inconsistency) for inconsistency in found)
            lap("check")
        shacl_warnings = validation(facts, asserted.annotations, records=built)  # None: too many records to check
        lap("validate")
        with _output_errors(out_dir):
            turtle = turtle_job.result()
        sizes = turtle.sizes if inferred is None else {**turtle.sizes, "inferred": len(inferred)}
        provenance = _provenance_writer(corpus=corpus, records=built, started=started, graph_sizes=sizes)
        if not incremental:
            buildstate.remove(out_dir)  # the files it describes are about to be replaced
        files = _write_outputs(out_dir, {PROVENANCE_FILE: provenance},
                               also=[lambda: turtle.staged, lambda: page_job.result()[0]])
    lap("write")
    if incremental:
        _keep_state(corpus=corpus, out_dir=out_dir, asserted=asserted, inference=inference if reason else None,
                    turtle=turtle, cache=cache, lexicon=lexicon, warnings=found, page=page_job.result()[1])
        lap("state")
    return BuildReport(corpus=corpus, out_dir=out_dir, records_built=built, errors=tuple(errors),
                       triples=len(asserted), files=files,
                       records_extracted=cache.misses if cache else len(paths),
                       inferred=None if inferred is None else len(inferred),
                       study_links=bool(reason and study_links), shacl_checked=shacl_warnings is not None,
                       warnings=warnings + (shacl_warnings or ()), seconds=seconds, not_patched=not_patched)


def _keep_state(*, inference: BuildInference | None, out_dir: Path, **build) -> None:
    """Leave the state an incremental build patches the output from (incremental.py), or none
    where the output cannot be patched; a state that cannot be written is only a full build
    next time."""
    from commkg.incremental import full_build_state  # it imports this module

    state = None if inference is None else full_build_state(inference=inference, out_dir=out_dir, **build)
    try:
        if state is None:
            buildstate.remove(out_dir)
        else:
            state.save(out_dir, scanned_ns=build["cache"].scanned_ns)
    except OSError:
        with suppress(OSError):
            buildstate.remove(out_dir)


def _stopwatch(seconds: dict[str, float]) -> Callable[[str], None]:
    """lap(stage) records in `seconds` the time since the previous lap (or since now)."""
    mark = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        seconds[stage] = now - mark
        mark = now
    return lap


# How much lower the page's process runs (background.py): it should take what the reasoning
# and the writing leave of the cores, not slow them down.
_PAGE_NICENESS = 10


@dataclass(frozen=True)
class PageInput:
    """What the page's job receives once the build has reasoned."""

    inferred: list[Triple]
    groups: list[list[int]] | None  # the records reasoned together (grouped.py); None: as one whole
    shared_inferred: list[Triple] | None  # those of `inferred` about shared nodes, when grouped


def page_parts(records: Sequence[BuiltRecord], groups: Sequence[Sequence[int]] | None) -> list[PagePart]:
    """The page's parts (pagestate.py), without their triples (the page's PageIndex holds them):
    the records of each group together (no triple mentions the own nodes of two groups), or
    every record in one part where the corpus was reasoned as one whole (the study-to-study
    links tie them)."""
    groups = groups if groups is not None else [list(range(len(records)))] if records else []
    return [PagePart(studies=tuple((records[i].locality.study, records[i].locality.base) for i in group),
                     triples=[], annotations=[a for i in group for a in records[i].annotations])
            for group in groups]


def page_shared(owner: Callable[[Triple], int | None], *parts: Iterable[Triple]) -> list[Triple]:
    """The triples of `parts` that mention no record's own node: the page's shared triples."""
    return [t for part in parts for t in part if owner(t[0]) is None and owner(t[2]) is None]


def _stage_page(out_dir: Path, asserted: AssertedGraph,
                receive: Callable[[], PageInput | None]) -> tuple[list[Staged], str]:
    """Stage graph.html, the page of the asserted facts and of the inferred triples that
    `receive()` gives, and return its state (pagestate.py) as text: the page indexes the facts
    before the inferred triples come."""
    given: list[PageInput | None] = []

    def inferred() -> Iterator[Triple]:
        given.append(receive())  # None: no reasoning
        yield from given[0].inferred if given[0] is not None else ()

    index = PageIndex(itertools.chain(asserted.facts, inferred()))
    value = given[0]
    owner = CorpusOwners([record.locality for record in asserted.records]).owner
    if value is None:
        shared = page_shared(owner, asserted.shared)
    elif value.groups is None:
        shared = page_shared(owner, asserted.shared, value.inferred)
    else:
        shared = page_shared(owner, asserted.shared, value.shared_inferred)
    page, state = render_page_with_state(
        page_parts(asserted.records, None if value is None else value.groups), shared, index=index)
    del index
    return stage_files({out_dir / PAGE_FILE: partial(_write_page, page=page)}), state.dumps()


def _write_page(stream: TextIO, page: str) -> None:
    stream.write(page)


@dataclass(frozen=True)
class InferredBlocks:
    """What the Turtle writer needs of the inferred triples, besides what it has (the blocks
    each record's worker rendered of its own inference: AssertedGraph.inferred_blocks)."""

    replaced: dict[int, list[Triple]]  # record → what its group (of several) infers of its own nodes
    shared: list[Triple]  # the inferred triples about shared nodes, to render
    whole: list[Triple] | None = None  # or: every inferred triple, to render (reasoned as one whole)


@dataclass(frozen=True)
class BuildInference:
    """What the build infers (grouped.py), and how it is split into records."""

    triples: list[Triple]
    blocks: InferredBlocks
    groups: list[list[int]] | None = None  # the records reasoned together; None: as one whole
    shared: list[list[Triple]] = field(default_factory=list)  # per group, about shared nodes (grouped.combine's input)
    exposures: list[frozenset[str]] = field(default_factory=list)  # per record
    own: list[int] = field(default_factory=list)  # per record: how many inferred triples are about its own nodes


def _infer(asserted: AssertedGraph, lexicon: Lexicon, *, study_links: bool) -> BuildInference:
    """Reason record by record (grouped.py), or over the whole corpus at once with the study
    links (which tie every record to every other) or where the records cannot be told apart."""
    records = asserted.records
    if not study_links and all(record.reasoning is not None for record in records):
        with suppress(NotDecomposable):
            return _infer_by_group(asserted, lexicon)
    exclude = frozenset() if study_links else STUDY_LINKS
    inferred = list(reason_knowledge(asserted.knowledge, asserted.ontology, exclude=exclude))
    return BuildInference(inferred, InferredBlocks({}, [], whole=inferred))


def _infer_by_group(asserted: AssertedGraph, lexicon: Lexicon) -> BuildInference:
    records = asserted.records
    owners = [record.locality for record in records]

    described: dict[str, list[Triple]] = {}  # concept key → what the rules read of its description, interned

    def knowledge_of(i: int) -> Iterable[Triple]:
        for key in records[i].concepts:
            if key not in described:
                described[key] = asserted.intern(_described([key], lexicon))
        return itertools.chain(records[i].knowledge, *(described[key] for key in records[i].concepts))

    found = reason_records(_group_reasoner(), [record.reasoning for record in records], owners, knowledge_of,
                           interned=True)  # by the build's term table, seeded with the ontology's names
    classes = {t[2] for t in asserted.knowledge if t[1] is _TYPE}
    shared = _group_reasoner().combine(
        (t for part in found.shared for t in part), shared_knowledge=asserted.shared, classes=classes)
    replaced = {i: found.own[i] for group in found.groups if len(group) > 1 for i in group}
    triples = [t for own in found.own for t in own]
    triples.extend(shared)
    return BuildInference(triples, InferredBlocks(replaced, list(shared)), found.groups, found.shared,
                          found.exposures, [len(own) for own in found.own])


@dataclass(frozen=True)
class _Turtle:
    """What `_write_turtle` hands back."""

    staged: list[Staged]  # asserted.ttl; with reasoning, inferred.ttl, graph.ttl and graph.trig too
    sizes: dict[str, int]  # triples in each named graph but the inferred one
    # Where each record's blocks are in each file (documents.py), for an incremental build to
    # patch them; None where the inferred triples were rendered as one whole
    indexes: dict[str, DocumentIndex] | None = None
    replaced_prefixes: dict[int, frozenset[str]] = field(default_factory=dict)  # of records reasoned in groups
    ontology_prefixes: frozenset[str] = frozenset()  # that graph.trig's ontology graph uses
    declared: frozenset[str] = frozenset()  # that graph.trig's header declares


def _prefix_text(used: Iterable[str]) -> str:
    return "".join(f"@prefix {prefix}: <{OUTPUT_PREFIXES[prefix]}> .\n" for prefix in sorted(used))


def _shared_entries(blocks: Blocks) -> list[tuple]:
    return [(key, text, SHARED) for key, text in blocks.entries]


# The documents (documents.py), piece by piece: what a full build writes and an incremental one
# patches. `parts` of the inferred triples: the records' blocks, then the shared ones.

def asserted_document(local, shared, evidence, prefixes: Iterable[str]) -> list:
    return [Text(_prefix_text(prefixes)), Section("asserted", [local, shared, evidence])]


def inferred_document(parts, prefixes: Iterable[str]) -> list:
    return [Text(_prefix_text(prefixes)), Section("inferred", parts)]


def graph_document(local, shared, evidence, parts, prefixes: Iterable[str]) -> list:
    # graph.ttl is asserted.ttl and inferred.ttl interleaved: a subject with inferred triples
    # has its asserted block, then its inferred block (valid Turtle; docs/model.md).
    return [Text(_prefix_text(prefixes)), Section("graph", [local, shared, evidence, *parts])]


def graph_names() -> tuple[dict[str, str], frozenset[str]]:
    """How graph.trig names its graphs, and the prefixes that uses."""
    forms = TurtleForms(OUTPUT_PREFIXES)
    names = {name: forms.iri(URIRef(GRAPH_BASE + name)) for name in ("ontology", "asserted", "evidence")}
    # The inferred graph comes after the header is written: named with no prefix of its own.
    names["inferred"] = TurtleForms(OUTPUT_PREFIXES).iri(URIRef(GRAPH_BASE + "inferred"))
    return names, frozenset(forms.used_prefixes)


def trig_head(declared: Iterable[str], ontology: str | None, local, shared_data, evidence) -> list:
    """graph.trig up to its inferred graph (docs/model.md); `ontology`: the ontology graph's
    indented blocks (None: as in the previous file); `shared_data`: the shared blocks but the
    vocabulary's, which is in the ontology graph."""
    names, _ = graph_names()
    return [Text(_prefix_text(declared)),
            Text(f"\n{names['ontology']} {{"), Fixed("ontology", ontology), Text("}\n"),
            Text(f"\n{names['asserted']} {{"), Section("asserted", [local, shared_data], indent=True), Text("}\n"),
            Text(f"\n{names['evidence']} {{"), Section("evidence", [evidence], indent=True), Text("}\n")]


def trig_tail(parts) -> list:
    names, _ = graph_names()
    return [Text(f"\n{names['inferred']} {{"), Section("inferred", parts, indent=True), Text("}\n")]


def ontology_graph_text(triples: Iterable[Triple]) -> tuple[str, frozenset[str]]:
    """graph.trig's ontology graph (the ontology, and the lexicon's descriptions of concepts and
    units), indented, and the prefixes it uses."""
    blocks = render(triples, OUTPUT_PREFIXES, blank_prefix="ontology_")
    return indented("".join("\n" + text for _, text in blocks.entries)), blocks.prefixes


def _write_turtle(asserted: AssertedGraph, out_dir: Path, ontology: frozenset[Triple] | None,
                  receive: Callable[[], InferredBlocks | None]) -> _Turtle:
    """Stage the Turtle and TriG files. First what needs no reasoning: asserted.ttl, and (when
    there is an `ontology` to reason with) graph.trig but for its inferred graph, which comes
    last in the file (docs/model.md). Then, with what `receive()` gives of the inferred triples,
    inferred.ttl and graph.ttl, and the inferred graph of graph.trig.

    Each triple is rendered as Turtle once, and its text reused in every file it goes into (at
    10,000 records, rendering was most of the build); the records' own subjects, the evidence
    and what each record infers alone were rendered by the workers. Every file notes where each
    record's blocks are (documents.py)."""
    staged: list[Staged] = []
    indexes: dict[str, DocumentIndex] = {}

    def document(name: str, pieces) -> Callable:
        return lambda stream: indexes.__setitem__(name, write_pieces(stream, pieces))

    try:
        shared_blocks = render(asserted.shared, OUTPUT_PREFIXES)
        shared = _shared_entries(shared_blocks)
        local, evidence = asserted.local_blocks, asserted.evidence
        asserted_prefixes = frozenset(asserted.prefixes) | shared_blocks.prefixes
        staged += stage_files({out_dir / ASSERTED_FILE: document(
            ASSERTED_FILE, asserted_document(local, shared, evidence, asserted_prefixes))}, binary=True)
        if ontology is None:
            receive()
            return _Turtle(staged, {"asserted": len(asserted)}, indexes)

        vocabulary = [t for t in asserted.shared if _is_vocabulary(t[0])]  # never a record's own subject
        vocabulary_keys = {subject_key(s) for s, _, _ in vocabulary}
        ontology_graph = set(ontology).union(vocabulary)
        ontology_text, ontology_prefixes = ontology_graph_text(ontology_graph)
        declared = graph_names()[1] | ontology_prefixes | asserted_prefixes
        shared_data = [entry for entry in shared if entry[0] not in vocabulary_keys]
        staged += stage_files({out_dir / TRIG_FILE: document(
            TRIG_FILE, trig_head(declared, ontology_text, local, shared_data, evidence))}, binary=True)
        trig = staged[-1]
        sizes = {"ontology": len(ontology_graph), "asserted": len(asserted.facts) - len(vocabulary),
                 "evidence": asserted.evidence_triples}

        inferred = receive()
        replaced_prefixes: dict[int, frozenset[str]] = {}
        if inferred.whole is not None:  # reasoned as one whole: no record owns a block
            whole = render(inferred.whole, OUTPUT_PREFIXES)
            parts, inferred_prefixes = [_shared_entries(whole)], whole.prefixes
        else:
            replaced = inferred.replaced
            alone = [entry for entry in asserted.inferred_blocks if entry[2] // 2 not in replaced]
            again = {i: render(triples, OUTPUT_PREFIXES) for i, triples in replaced.items()}
            replaced_prefixes = {i: blocks.prefixes for i, blocks in again.items()}
            shared_inferred = render(inferred.shared, OUTPUT_PREFIXES)
            parts = [alone, sorted((key, text, owner_of(i, key, asserted.records[i].locality.study))
                                   for i, blocks in again.items() for key, text in blocks.entries),
                     _shared_entries(shared_inferred)]
            inferred_prefixes = frozenset().union(
                shared_inferred.prefixes, *replaced_prefixes.values(),
                *(r.inferred_prefixes for i, r in enumerate(asserted.records) if i not in replaced))
        staged += stage_files({
            out_dir / INFERRED_FILE: document(INFERRED_FILE, inferred_document(parts, inferred_prefixes)),
            out_dir / GRAPH_FILE: document(GRAPH_FILE, graph_document(
                local, shared, evidence, parts, asserted_prefixes | inferred_prefixes)),
        }, binary=True)
        # graph.trig's header is written: a prefix it does not declare is not used (a full IRI instead).
        if not inferred_prefixes <= declared:
            everything = inferred.whole if inferred.whole is not None else _every_inferred(asserted, inferred)
            parts = [_shared_entries(render(everything, {p: OUTPUT_PREFIXES[p] for p in declared}))]
        append_to_staged(trig, lambda stream: write_pieces(
            stream, trig_tail(parts), offset=stream.tell(), index=indexes[TRIG_FILE]), binary=True)
        decomposed = inferred.whole is None and inferred_prefixes <= declared
        return _Turtle(staged, sizes, indexes if decomposed else None, replaced_prefixes,
                       ontology_prefixes, frozenset(declared))
    except BaseException:
        discard_files(staged)
        raise


def _every_inferred(asserted: AssertedGraph, inferred: InferredBlocks) -> list[Triple]:
    """Every inferred triple, put together again from what `_write_turtle` has of them."""
    triples = [t for i, record in enumerate(asserted.records) if i not in inferred.replaced
               for t in record.reasoning.inferred if record.locality.owns(t[0])]
    triples.extend(t for own in inferred.replaced.values() for t in own)
    return triples + inferred.shared


def _provenance_writer(*, corpus: Path, records: int, started: datetime,
                       graph_sizes: dict[str, int]) -> Callable[[TextIO], None]:
    """Writes DIR/provenance.trig: who built what, when, from which corpus (PROV-O). Its own
    file, so that the data files stay byte-identical from one build to the next; written in
    the same atomic step as them, so that it always describes the files beside it."""
    from commkg.export import PROVENANCE_GRAPH, write_trig  # export imports build: not at the top
    from commkg.provenance import describe_build

    triples = describe_build(corpus=corpus, records=records, started=started,
                             ended=datetime.now(timezone.utc), graph_sizes=graph_sizes)
    return partial(write_trig, graphs={PROVENANCE_GRAPH: triples})


# --------------------------------------------------------------------------- reasoning

@cache  # once per process: the build, its provenance and an incremental patch all read it
def _ontology() -> frozenset[Triple]:
    """The bundled ontology's triples (frozen: every caller shares them)."""
    return frozenset(rdflib.Graph().parse(ontology_file("commissioning.ttl"), format="turtle"))


@cache  # once per process: worker processes ask for it once per record
def _compiled_ontology() -> Ontology:
    return compile_ontology(_ontology())


@cache
def _knowledge_test() -> Callable[[Triple], bool]:
    return knowledge_test(_compiled_ontology())


@cache
def _group_reasoner() -> GroupReasoner:
    """Reasoning record by record (grouped.py), without the study links."""
    return GroupReasoner(_compiled_ontology(), exclude=STUDY_LINKS, record_nodes=RECORD_NODES, is_study=is_study_iri)


def is_evidence(subject) -> bool:
    """Evidence is every subject under `{record base}evidence/` (docs/model.md)."""
    return isinstance(subject, URIRef) and subject.startswith(_ID_BASE) and "/evidence/" in subject


def _is_vocabulary(subject) -> bool:
    """The lexicon's descriptions of concepts and units, copied into the asserted graph."""
    return isinstance(subject, URIRef) and subject.startswith((str(CONCEPT), str(UNIT)))


class _NoProgress:
    def update(self, n_steps: int) -> None:
        pass
