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
from typing import Protocol, TextIO, TypeVar

import rdflib
from rdflib import URIRef

from commkg import background
from commkg.bulk import collector_paused
from commkg.cache import RecordCache
from commkg.corpus import find_records, read_record
from commkg.errors import CommkgError, RecordError
from commkg.evidence import Annotation, triple_count, turtle_entries
from commkg.extract import extract_record
from commkg.lexicon import CONCEPT, UNIT, Lexicon, load_lexicon
from commkg.packing import PackedRecord, TermTable, pack
from commkg.reason import STUDY_LINKS, Ontology, compile_ontology, inconsistencies, knowledge_test, reason_knowledge
from commkg.resources import data_path, ontology_file
from commkg.visual import write_html
from commkg.writing import (Blocks, Staged, append_to_staged, commit_files, discard_files, render, stage_files,
                            subject_key, write_blocks, write_trig_blocks, write_trig_graph)

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

def extract_file(path: Path, lexicon: Lexicon | None = None) -> tuple[PackedRecord | None, str | None]:
    """(the record's extraction, None), or (None, the reason it was skipped). Runs in a worker
    process: it returns plain data (packing.py), since RecordError itself does not survive
    pickling and rdflib terms are dear to unpickle."""
    try:
        record = read_record(path)
        extraction = extract_record(record, lexicon or load_lexicon())  # load_lexicon is cached per process
        local_facts, shared_facts = [], []
        for triple in extraction.facts:
            (local_facts if extraction.is_local(triple[0]) else shared_facts).append(triple)
        usable = _knowledge_test()
        knowledge = [triple for triple in extraction.facts if usable(triple)]  # sorted out here, in parallel
        # Rendered here, in parallel: the blocks of subjects no other record speaks of, and the
        # evidence (most of the output, of which only the text is needed).
        local = render(local_facts, OUTPUT_PREFIXES)
        entries, prefixes = turtle_entries(extraction.annotations, OUTPUT_PREFIXES)
        packed = pack(extraction, local_facts=local_facts, shared_facts=shared_facts, knowledge=knowledge,
                      local_blocks=list(local.entries), evidence=entries, prefixes=prefixes | local.prefixes)
    except RecordError as error:
        return None, error.reason
    except CommkgError as error:
        return None, str(error)
    except Exception as error:  # noqa: BLE001 - one record's bug must not sink the corpus
        return None, f"extraction failed ({type(error).__name__}: {error}); please report this bug"
    return packed, None


@dataclass
class AssertedGraph:
    """The merged extraction of a corpus: the facts as triples, the evidence apart."""

    ontology: Ontology  # what the facts will be reasoned with
    facts: set[Triple] = field(default_factory=set)  # records' facts + the descriptions of the concepts used
    shared: set[Triple] = field(default_factory=set)  # the facts about subjects records share, to render
    # Those of the facts that the rules use (reason.knowledge), each term the ontology's own object
    knowledge: set[Triple] = field(default_factory=set)
    annotations: list[Annotation] = field(default_factory=list)
    # Rendered by the workers (writing.Blocks entries), each list sorted once merged:
    local_blocks: list[tuple[tuple, str]] = field(default_factory=list)  # facts about records' own subjects
    evidence: list[tuple[tuple, str]] = field(default_factory=list)
    prefixes: set[str] = field(default_factory=set)  # that both use

    def __post_init__(self) -> None:
        # One object per term for the whole corpus (bulk.py), the ontology's where it has one.
        self._terms = TermTable(seed=self.ontology.names)
        self._usable = knowledge_test(self.ontology)

    def add(self, record: PackedRecord) -> None:
        unpacked = self._terms.unpack(record)
        self.facts.update(unpacked.local_facts)
        self.facts.update(unpacked.shared_facts)
        self.shared.update(unpacked.shared_facts)
        self.knowledge.update(unpacked.knowledge)
        self.annotations.extend(unpacked.annotations)
        self.local_blocks.extend(record.local_blocks)
        self.evidence.extend(record.evidence)
        self.prefixes.update(record.prefixes)

    def add_shared(self, triples: Iterable[Triple]) -> None:
        """Add triples about subjects that records share (the lexicon's descriptions of concepts)."""
        intern = self._terms.intern
        for s, p, o in triples:
            triple = (intern(s), intern(p), intern(o))
            self.facts.add(triple)
            self.shared.add(triple)
            if self._usable(triple):
                self.knowledge.add(triple)

    def sort(self) -> None:
        self.local_blocks.sort()
        self.evidence.sort()

    @property
    def evidence_triples(self) -> int:
        return sum(triple_count(annotation) for annotation in self.annotations)

    def rendered(self) -> tuple[Blocks, Blocks]:
        """The blocks the workers rendered: (local facts, evidence)."""
        prefixes = frozenset(self.prefixes)
        return Blocks(self.local_blocks, prefixes), Blocks(self.evidence, prefixes)

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


def _results(paths: Sequence[Path], workers: int) -> Iterator[Result]:
    """extract_file over `paths`, in their order, in `workers` processes."""
    if workers == 1:
        lexicon = load_lexicon()
        return (extract_file(path, lexicon) for path in paths)
    return _pooled_results(paths, workers)


def _pooled_results(paths: Sequence[Path], workers: int) -> Iterator[Result]:
    executor = ProcessPoolExecutor(max_workers=workers)
    try:
        # Chunks amortise the inter-process round trip; map keeps the corpus order.
        chunk = max(1, min(32, len(paths) // (workers * 4)))
        yield from executor.map(extract_file, paths, chunksize=chunk)
    except BrokenProcessPool:
        raise CommkgError("an extraction worker process died (out of memory?); "
                          "try again with fewer --workers, e.g. --workers 1") from None
    finally:
        # On --strict's first error (or Ctrl-C) drop the queued records instead of finishing them.
        executor.shutdown(wait=True, cancel_futures=True)


def _extract_all(paths: Sequence[Path], *, strict: bool, workers: int, bar: ProgressBar,
                 cache: RecordCache | None = None, lexicon: Lexicon) -> tuple[AssertedGraph, list[RecordError], int]:
    """The merged extraction of every readable record, the errors, and how many records were
    built. With `strict`, the first error is raised instead (before anything is written). With
    a `cache`, unchanged records come from it and only the others are extracted."""
    asserted = AssertedGraph(_compiled_ontology())
    concepts: set[str] = set()
    errors: list[RecordError] = []
    built = 0
    studies: dict[str, Path] = {}  # study IRI (case-folded for DOIs) → the record that made it
    # closing(): on --strict's early exit, stop the workers now, not when the generator is collected.
    if cache is None:
        results = _results(paths, workers)
    else:  # as many workers as the (often few) changed records need
        results = cache.results(paths, lambda missing: _results(
            missing, min(workers, _worker_count(len(missing), None))))
    with closing(results) as results:
        for path, (record, reason) in zip(paths, results):
            bar.update(1)
            if reason is None:
                reason = _same_study(record.terms[record.study], path, studies)
            if reason is not None:
                error = RecordError(path, reason)
                if strict:
                    raise error
                errors.append(error)
                continue
            asserted.add(record)
            concepts.update(record.concepts)
            built += 1
    for key in sorted(concepts):  # once for the corpus, not once per record that uses the concept
        asserted.add_shared(lexicon.descriptions[key])
    asserted.sort()
    return asserted, errors, built


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
    # validate imports export, which imports build: not at the top. And not in _build_corpus: the
    # frames of a first import stay alive until the next garbage collection, and would keep that
    # frame's millions of triples with them (at 10,000 records, 3 s more to free them).
    from commkg.validate import build_warnings

    with collector_paused():
        return _build_corpus(corpus, out_dir, strict=strict, workers=workers, progress=progress,
                             incremental=incremental, reason=reason, study_links=study_links,
                             validation=build_warnings)


def _build_corpus(corpus: Path | None, out_dir: Path, *, strict: bool, workers: int | None,
                  progress: ProgressFactory | None, incremental: bool, reason: bool,
                  study_links: bool | None, validation: Callable) -> BuildReport:
    started = datetime.now(timezone.utc)
    corpus = Path(corpus) if corpus is not None else data_path("corpus")
    out_dir = Path(out_dir)
    paths = _record_paths(corpus)
    _check_out_dir(out_dir)

    seconds: dict[str, float] = {}
    lap = _stopwatch(seconds)
    cache = RecordCache(out_dir) if incremental else None
    workers = _worker_count(len(paths), workers)
    parallel = workers > 1  # the build may use more than one process
    with (progress(len(paths)) if progress else nullcontext(_NoProgress())) as bar:
        asserted, errors, built = _extract_all(
            paths, strict=strict, workers=workers, bar=bar, cache=cache, lexicon=load_lexicon())
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
    page_writer = partial(_stage_page, out_dir, facts, asserted.annotations)
    with _cleaned_up(background.start_receiving(turtle_writer, fork=parallel),
                     staged=lambda turtle: turtle.staged) as turtle_job, \
         _cleaned_up(background.start_receiving(page_writer, fork=parallel, nice=_PAGE_NICENESS)) as page_job:
        if reason:
            compiled = asserted.ontology
            inferred = reason_knowledge(asserted.knowledge, compiled, exclude=frozenset() if study_links else STUDY_LINKS)
            lap("reason")
        background.send([page_job, turtle_job], None if inferred is None else list(inferred))
        if reason:
            warnings = tuple(str(found) for found in inconsistencies(
                facts, inferred, compiled, annotations=asserted.annotations))
            lap("check")
        shacl_warnings = validation(facts, asserted.annotations, records=built)  # None: too many records to check
        lap("validate")
        with _output_errors(out_dir):
            turtle = turtle_job.result()
        sizes = turtle.sizes if inferred is None else {**turtle.sizes, "inferred": len(inferred)}
        provenance = _provenance_writer(corpus=corpus, records=built, started=started, graph_sizes=sizes)
        files = _write_outputs(out_dir, {PROVENANCE_FILE: provenance},
                               also=[lambda: turtle.staged, page_job.result])
    lap("write")
    return BuildReport(corpus=corpus, out_dir=out_dir, records_built=built, errors=tuple(errors),
                       triples=len(asserted), files=files,
                       records_extracted=cache.misses if cache else len(paths),
                       inferred=None if inferred is None else len(inferred),
                       study_links=bool(reason and study_links), shacl_checked=shacl_warnings is not None,
                       warnings=warnings + (shacl_warnings or ()), seconds=seconds)


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


def _stage_page(out_dir: Path, facts: Iterable[Triple], annotations: Sequence[Annotation],
                receive: Callable[[], Iterable[Triple]]) -> list[Staged]:
    """Stage graph.html, the page of `facts` and of the inferred triples that `receive()`
    gives: the page reads them after the facts, so it indexes those before they come."""
    def inferred() -> Iterator[Triple]:
        yield from receive() or ()  # None: no reasoning

    return stage_files({out_dir / PAGE_FILE: partial(
        write_html, graph=itertools.chain(facts, inferred()), annotations=annotations)})


@dataclass(frozen=True)
class _Turtle:
    """What `_write_turtle` hands back."""

    staged: list[Staged]  # asserted.ttl; with reasoning, inferred.ttl, graph.ttl and graph.trig too
    sizes: dict[str, int]  # triples in each named graph but the inferred one


def _write_turtle(asserted: AssertedGraph, out_dir: Path, ontology: rdflib.Graph | None,
                  receive: Callable[[], Sequence[Triple] | None]) -> _Turtle:
    """Stage the Turtle and TriG files. First what needs no reasoning: asserted.ttl, and (when
    there is an `ontology` to reason with) graph.trig but for its inferred graph, which comes
    last in the file (docs/model.md). Then, with the inferred triples that `receive()` gives,
    inferred.ttl and graph.ttl, and the inferred graph of graph.trig.

    Each triple is rendered as Turtle once, and its text reused in every file it goes into (at
    10,000 records, rendering was most of the build); the records' own subjects and the evidence
    were rendered by the workers."""
    staged: list[Staged] = []
    try:
        local, evidence = asserted.rendered()
        shared = render(asserted.shared, OUTPUT_PREFIXES)
        staged += stage_files({out_dir / ASSERTED_FILE: partial(
            write_blocks, parts=[local, shared, evidence], prefixes=OUTPUT_PREFIXES)})
        if ontology is None:
            return _Turtle(staged, {"asserted": len(asserted)})

        # graph.trig (docs/model.md): the lexicon's descriptions of concepts and units go with the ontology.
        vocabulary = [t for t in asserted.shared if _is_vocabulary(t[0])]  # never a record's own subject
        vocabulary_keys = {subject_key(s) for s, _, _ in vocabulary}
        ontology_graph = set(ontology).union(vocabulary)
        graphs = {
            "ontology": [render(ontology_graph, OUTPUT_PREFIXES, blank_prefix="ontology_")],
            "asserted": [local, shared.without(vocabulary_keys.__contains__)],  # vocabulary is never local
            "evidence": [evidence],
        }
        declared: list[frozenset[str]] = []
        staged += stage_files({out_dir / TRIG_FILE: lambda stream: declared.append(
            write_trig_blocks(stream, graphs, OUTPUT_PREFIXES, GRAPH_BASE))})
        trig = staged[-1]
        sizes = {"ontology": len(ontology_graph), "asserted": len(asserted.facts) - len(vocabulary),
                 "evidence": asserted.evidence_triples}

        inferred = receive()
        inferred_blocks = render(inferred, OUTPUT_PREFIXES)
        staged += stage_files({
            out_dir / INFERRED_FILE: partial(write_blocks, parts=[inferred_blocks], prefixes=OUTPUT_PREFIXES),
            # graph.ttl is asserted.ttl and inferred.ttl interleaved: a subject with inferred triples
            # has its asserted block, then its inferred block (valid Turtle; docs/model.md).
            out_dir / GRAPH_FILE: partial(write_blocks, parts=[local, shared, evidence, inferred_blocks],
                                          prefixes=OUTPUT_PREFIXES),
        })
        # graph.trig's header is written: a prefix it does not declare is not used (a full IRI instead).
        trig_blocks = inferred_blocks if inferred_blocks.prefixes <= declared[0] else render(
            inferred, {prefix: OUTPUT_PREFIXES[prefix] for prefix in declared[0]})
        append_to_staged(trig, partial(write_trig_graph, name="inferred", parts=[trig_blocks],
                                       prefixes=OUTPUT_PREFIXES, graph_base=GRAPH_BASE))
        return _Turtle(staged, sizes)
    except BaseException:
        discard_files(staged)
        raise


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

def _ontology() -> rdflib.Graph:
    return rdflib.Graph().parse(ontology_file("commissioning.ttl"), format="turtle")


@cache  # once per process: worker processes ask for it once per record
def _compiled_ontology() -> Ontology:
    return compile_ontology(_ontology())


@cache
def _knowledge_test() -> Callable[[Triple], bool]:
    return knowledge_test(_compiled_ontology())


def is_evidence(subject) -> bool:
    """Evidence is every subject under `{record base}evidence/` (docs/model.md)."""
    return isinstance(subject, URIRef) and subject.startswith(_ID_BASE) and "/evidence/" in subject


def _is_vocabulary(subject) -> bool:
    """The lexicon's descriptions of concepts and units, copied into the asserted graph."""
    return isinstance(subject, URIRef) and subject.startswith((str(CONCEPT), str(UNIT)))


class _NoProgress:
    def update(self, n_steps: int) -> None:
        pass
