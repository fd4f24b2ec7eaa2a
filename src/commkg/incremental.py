"""Incremental builds: after a few records change, patch the last build's output instead of
building the corpus again (build.py does a full build where this cannot be done).

    scan the corpus (a file whose size and modification time are as recorded is not read)
      → the records added, changed and removed, and those their reasoning groups touch (grouped.py)
      → take their old contributions out of the corpus-wide tallies, put their new ones in (buildstate.py)
      → write each output file from the previous one: the blocks of every untouched record
        copied by byte range, the touched records' and the shared blocks written (documents.py);
        a file whose bytes would not change is left as it is

The output is byte for byte that of a full build of the same corpus (tests/test_incremental.py),
and it is replaced in one atomic step as a full build's is. A patch is not tried, and the build
is done in full, when there is no state of the last build that describes the files beside it,
when many records changed, for small corpora (whose study-to-study links tie every record to
every other, and which the build checks against the SHACL shapes), and wherever the change
cannot be placed by byte ranges (documents.CannotPatch) or a node that records share is typed
inconsistently (its warning would quote every record that names it).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext, suppress
from dataclasses import replace
from functools import partial
from datetime import datetime
from pathlib import Path

from rdflib import URIRef

from commkg import background, build
from commkg.buildstate import BuildState, FileState, RecordState
from commkg.cache import RecordCache, build_salt
from commkg.documents import CannotPatch, Patch, plan_patch
from commkg.errors import RecordError
from commkg.evidence import triple_count
from commkg.grouped import (ENTANGLED, CorpusOwners, Locality, Meetings, NotDecomposable, RecordReasoning, reason_records,
                             split_by_owner)
from commkg.lexicon import Lexicon
from commkg.packing import PackedRecord, TermTable
from commkg.pagestate import PagePart, PageState, PageStateError, StalePageState, update_page
from commkg.reason import _TYPE, inconsistencies
from commkg.writing import Staged, discard_files, render, stage_files, subject_key

Triple = tuple

# A change of more records than this (or than a twentieth of the corpus) is built in full: the
# patch's gain shrinks, and a full build spreads the extraction over every core.
MAX_CHANGED = 200
DOCUMENTS = (build.ASSERTED_FILE, build.INFERRED_FILE, build.GRAPH_FILE, build.TRIG_FILE)


# ----------------------------------------------------------------------------- the state of a full build

def full_build_state(*, corpus: Path, asserted: build.AssertedGraph, inference: build.BuildInference,
                     turtle: build._Turtle, cache: RecordCache, lexicon: Lexicon, out_dir: Path,
                     warnings: Sequence, page: str | None) -> BuildState | None:
    """The state a full build leaves for the next incremental one; None where its output cannot
    be patched (reasoned as one whole)."""
    if inference.groups is None or turtle.indexes is None:
        return None
    records = asserted.records
    group_of = {i: group[0] for group in inference.groups for i in group}
    classes_of = _classes(lexicon)
    states, shared_facts, concepts, classes = [], Counter(), Counter(), Counter()
    for i, record in enumerate(records):
        key, size, mtime = cache.seen[record.path]
        own_classes = sorted(_record_classes(record.knowledge, record.concepts, classes_of))
        states.append(RecordState(
            path=_relative(record.path, corpus), key=key, size=size, mtime=mtime, study=record.locality.study,
            base=record.locality.base, group=group_of[i], exposures=sorted(inference.exposures[i]),
            prefixes=list(record.prefixes),
            inferred_prefixes=sorted(turtle.replaced_prefixes.get(i, record.inferred_prefixes)),
            classes=own_classes, local_facts=record.local_facts, evidence_triples=record.evidence_triples,
            own_inferred=inference.own[i]))
        shared_facts.update(set(record.shared_facts))
        concepts.update(set(record.concepts))
        classes.update(own_classes)
    shared_inferred = Counter(t for part in inference.shared for t in set(part))
    vocabulary = _vocabulary(asserted.shared)
    return BuildState(
        salt=cache.salt, records=states, shared_facts=shared_facts, concepts=concepts,
        shared_inferred=shared_inferred, classes=classes,
        files=_stamps(out_dir, turtle.indexes),
        ontology={"vocabulary": _digest(vocabulary), "prefixes": sorted(turtle.ontology_prefixes),
                  "size": turtle.sizes["ontology"]},
        declared=sorted(turtle.declared), warnings=_owned_warnings(warnings, records), page=page)


def _stamps(out_dir: Path, indexes: dict) -> dict[str, FileState]:
    stamps = {name: FileState.of(out_dir / name, indexes[name]) for name in DOCUMENTS}
    stamps[build.PAGE_FILE] = FileState.of(out_dir / build.PAGE_FILE, None)
    return stamps


def _owned_warnings(found: Sequence, records: Sequence) -> list[tuple[int, str, str]]:
    """Each inconsistency with the record whose node it is (-1: a shared node)."""
    owned = []
    for inconsistency in found:
        owner = next((i for i, record in enumerate(records) if record.locality.owns(inconsistency.node)), -1)
        owned.append((owner, str(inconsistency.node), str(inconsistency)))
    return owned


def _relative(path: Path, corpus: Path) -> str:
    """`path` (one of find_records(corpus)) relative to `corpus`, with "/" (as the state keeps it)."""
    text, prefix = os.fspath(path), os.path.join(os.fspath(corpus), "")  # no Path(): 10,000 calls a scan
    relative = text[len(prefix):] if text.startswith(prefix) else os.path.relpath(text, corpus)
    return relative.replace(os.sep, "/") if os.sep != "/" else relative


def _classes(lexicon: Lexicon) -> Callable[[str], set[str]]:
    """A concept key → the classes its description types it with."""
    found: dict[str, set[str]] = {}

    def of(key: str) -> set[str]:
        if key not in found:
            found[key] = {str(o) for _, p, o in lexicon.descriptions[key] if p == _TYPE}
        return found[key]
    return of


def _record_classes(knowledge: Iterable[Triple], concepts: Iterable[str], classes_of) -> set[str]:
    """The classes a record's knowledge (and its concepts' descriptions) types nodes with:
    grouped.combine's `classes`, record by record."""
    classes = {str(t[2]) for t in knowledge if t[1] == _TYPE}
    for key in concepts:
        classes |= classes_of(key)
    return classes


def _vocabulary(shared: Iterable[Triple]) -> list[Triple]:
    return [t for t in shared if build._is_vocabulary(t[0])]


def _digest(triples: Iterable[Triple]) -> str:
    """What identifies a set of triples (the vocabulary in graph.trig's ontology graph)."""
    lines = sorted(f"{s.n3()} {p.n3()} {o.n3()}" for s, p, o in triples)
    return hashlib.sha256("\n".join(lines).encode("utf-8", "surrogateescape")).hexdigest()


# ----------------------------------------------------------------------------- the patch

def _results_of(futures: Iterable) -> list[Staged]:
    """What every future staged; when one failed, the others' files removed and its error raised."""
    staged: list[Staged] = []
    failure = None
    for future in futures:
        try:
            staged += future.result()
        except BaseException as error:  # noqa: BLE001 - every thread finishes, then the first failure is raised
            failure = failure or error
    if failure is not None:
        discard_files(staged)
        raise failure
    return staged


class _Skip(Exception):
    """This build is not to be patched (the reason says why, for tests and benchmarks)."""


def patch_build(corpus: Path, out_dir: Path, paths: Sequence[Path], *, strict: bool, workers: int,
                progress, started: datetime, lexicon: Lexicon, study_links: bool | None,
                seconds: dict) -> tuple[build.BuildReport | None, str | None]:
    """(the incremental build of `paths` into `out_dir`, made by patching the last build's
    output, None), or (None, why it cannot be patched): the caller then builds in full. Raises
    RecordError with `strict` at the first bad record, before anything is written."""
    try:
        return _Patch(corpus, out_dir, paths, strict=strict, workers=workers, lexicon=lexicon,
                      study_links=study_links, seconds=seconds).run(progress, started), None
    except (_Skip, CannotPatch, NotDecomposable) as why:
        seconds.clear()  # the full build times its own stages
        return None, str(why)


class _Patch:
    def __init__(self, corpus: Path, out_dir: Path, paths: Sequence[Path], *, strict: bool, workers: int,
                 lexicon: Lexicon, study_links: bool | None, seconds: dict):
        self.corpus, self.out_dir, self.paths = corpus, out_dir, list(paths)
        self.strict, self.workers, self.lexicon, self.study_links = strict, workers, lexicon, study_links
        self.seconds = seconds
        self.ontology = build._compiled_ontology()
        self.terms = TermTable(seed=self.ontology.names)
        self.salt = build_salt()
        self.cache = RecordCache(out_dir, salt=self.salt)

    def run(self, progress, started: datetime) -> build.BuildReport:
        lap = build._stopwatch(self.seconds)
        state = BuildState.load(self.out_dir, salt=self.salt, terms=self.terms)
        if state is None:
            raise _Skip("no state of the last incremental build")
        if set(state.files) != {*DOCUMENTS, build.PAGE_FILE}:
            raise _Skip("the state does not describe every output file")
        if not all(stamp.describes(self.out_dir / name) for name, stamp in state.files.items()):
            raise _Skip("the output files are not those the state describes")
        if any(w[0] == -1 for w in state.warnings):
            raise _Skip("a node that records share was inconsistent")
        if state.page is None:
            raise _Skip("the last build kept no state of its page")
        self.state = state
        # A forked copy of this process reads the page's state meanwhile, and updates the page
        # once it is sent what changed (before any thread starts: a process with threads must not fork).
        self.page_job = background.start_receiving(partial(_updated_page, self.out_dir, state.page), fork=True)
        try:
            scanned = time.time_ns()
            with (progress(len(self.paths)) if progress else nullcontext(build._NoProgress())) as bar:
                built, errors = self._scan(bar)
            lap("extract")
            if self.study_links or (self.study_links is None and len(built) <= build.STUDY_LINKS_UP_TO_RECORDS):
                raise _Skip("study-to-study links tie every record to every other")
            from commkg.validate import CHECKED_IN_BUILD_UP_TO_RECORDS
            if len(built) <= CHECKED_IN_BUILD_UP_TO_RECORDS:
                raise _Skip("a corpus this small is checked against the SHACL shapes in full")
            return self._patch(built, errors, scanned, started, lap)
        except BaseException:
            with suppress(BaseException):  # the page's job ends (NothingSent), its file is removed
                discard_files(self.page_job.result()[0])
            raise

    # ------------------------------------------------------------------ which records
    def _scan(self, bar) -> tuple[list[tuple[int, int | None]], list[RecordError]]:
        """The records to build, in corpus order, as (position in `paths`, number in the old
        state or None), and the errors. Loads the entries of the new and changed records."""
        old = {record.path: i for i, record in enumerate(self.state.records)}
        self.keys: list[tuple[str, int, int] | None] = []
        unchanged: list[int | None] = []
        for path in self.paths:
            number = old.get(_relative(path, self.corpus))
            key = None
            if number is not None:
                record = self.state.records[number]
                try:
                    info = os.stat(path)
                    if info.st_size == record.size and info.st_mtime_ns == record.mtime:
                        key = (record.key, record.size, record.mtime)
                except OSError:
                    pass
            if key is None:
                try:
                    key = self.cache.file_key(path)
                except OSError:
                    key = None
            self.keys.append(key)
            unchanged.append(number if number is not None and key is not None
                             and key[0] == self.state.records[number].key else None)
        needed = [i for i, number in enumerate(unchanged) if number is None]
        if len(needed) > max(MAX_CHANGED, len(self.paths) // 20):
            raise _Skip(f"{len(needed)} records changed")
        self.entries: dict[int, PackedRecord] = {}
        failures: dict[int, str] = {}
        missing = []
        for i in needed:
            entry = self.cache.get(self.keys[i][0]) if self.keys[i] else None
            if entry is None:
                missing.append(i)
            else:
                self.entries[i] = entry
        self.extracted = len(missing)
        if missing:
            workers = min(self.workers, build._worker_count(len(missing), None))
            results = build._results([self.paths[i] for i in missing], workers, reason=True)
            for i, (record, why) in zip(missing, results):
                if why is not None:
                    failures[i] = why
                    continue
                if self.keys[i] is not None:
                    self.cache.put(self.keys[i][0], record)
                self.entries[i] = record
        built, errors, studies = [], [], {}
        for i, path in enumerate(self.paths):
            bar.update(1)
            why = failures.get(i)
            if why is None:
                study = (self.state.records[unchanged[i]].study if unchanged[i] is not None
                         else self.entries[i].terms[self.entries[i].study])
                why = build._same_study(study, path, studies)
            if why is not None:
                error = RecordError(path, why)
                if self.strict:
                    raise error
                errors.append(error)
                continue
            if unchanged[i] is None and self.entries[i].exposures is None:
                self.entries[i] = build.completed(self.entries[i], self.lexicon)
                if self.entries[i].exposures is None:
                    raise _Skip(f"{path.name} cannot be reasoned record by record")
            built.append((i, unchanged[i]))
        return built, errors

    def _affected(self, built: list[tuple[int, int | None]]) -> tuple[list[int], list[int]]:
        """The records (new numbers) whose group a change touches, and the old records (old
        numbers) of their old groups, removed records included."""
        old_records = self.state.records
        new_of_old = {old: new for new, (_, old) in enumerate(built) if old is not None}
        removed = [old for old in range(len(old_records)) if old not in new_of_old]
        added = [new for new, (_, old) in enumerate(built) if old is None]
        exposures = [frozenset(old_records[old].exposures) if old is not None else frozenset(self.entries[i].exposures)
                     for i, old in built]
        if any(ENTANGLED in found for found in exposures):
            raise _Skip("a record's inference is entangled with every other")
        meetings = Meetings(exposures)
        members_of = defaultdict(list)
        for old, record in enumerate(old_records):
            members_of[record.group].append(old)
        affected_old, affected_new = set(), set(added)
        pending_old = list(removed)
        pending_new = list(added)
        while pending_old or pending_new:
            while pending_old:
                old = pending_old.pop()
                for member in members_of[old_records[old].group]:
                    if member not in affected_old:
                        affected_old.add(member)
                        if member in new_of_old and new_of_old[member] not in affected_new:
                            affected_new.add(new_of_old[member])
                            pending_new.append(new_of_old[member])
                affected_old.add(old)
            while pending_new:
                new = pending_new.pop()
                old = built[new][1]
                if old is not None and old not in affected_old:
                    pending_old.append(old)
                for exposure in exposures[new]:
                    for other in meetings.at(exposure):
                        if other not in affected_new:
                            affected_new.add(other)
                            pending_new.append(other)
        return sorted(affected_new), sorted(affected_old)

    # ------------------------------------------------------------------ the patch itself
    def _entry(self, i: int, old: int | None) -> PackedRecord:
        if i in self.entries:
            return self.entries[i]
        entry = self.cache.get(self.state.records[old].key)
        if entry is None or entry.exposures is None:
            raise _Skip(f"the cache lost the entry of {self.paths[i].name}")
        self.entries[i] = entry
        return entry

    def _patch(self, built, errors, scanned: int, started: datetime, lap) -> build.BuildReport:
        state, terms = self.state, self.terms
        affected_new, affected_old = self._affected(built)
        new_entries = {new: self._entry(built[new][0], built[new][1]) for new in affected_new}
        old_entries = {}
        for old in affected_old:
            entry = self.cache.get(state.records[old].key)
            if entry is None or entry.exposures is None:
                raise _Skip("the cache lost an entry of the last build")
            old_entries[old] = entry
        old_unpacked = {old: terms.unpack(entry) for old, entry in old_entries.items()}
        new_unpacked = {new: terms.unpack(entry) for new, entry in new_entries.items()}

        # The tallies: the old contributions out, the new ones in.
        shared_facts, concepts, classes = Counter(state.shared_facts), Counter(state.concepts), Counter(state.classes)
        classes_of = _classes(self.lexicon)
        for old, unpacked in old_unpacked.items():
            shared_facts.subtract(set(unpacked.shared_facts))
            concepts.subtract(set(old_entries[old].concepts))
            classes.subtract(state.records[old].classes)
        new_classes = {}
        for new, unpacked in new_unpacked.items():
            shared_facts.update(set(unpacked.shared_facts))
            concepts.update(set(new_entries[new].concepts))
            new_classes[new] = sorted(_record_classes(unpacked.knowledge, new_entries[new].concepts, classes_of))
            classes.update(new_classes[new])
        shared_inferred = Counter(state.shared_inferred)
        for part in self._old_shared_inferred(affected_old, old_entries, old_unpacked):
            shared_inferred.subtract(set(part))
        reasoned = self._reason(affected_new, built, new_entries, new_unpacked)
        for part in reasoned.shared:
            shared_inferred.update(set(part))
        for counter in (shared_facts, concepts, classes, shared_inferred):
            for key in [k for k, n in counter.items() if n <= 0]:
                if counter[key] < 0:
                    raise _Skip("the state's tallies do not add up")
                del counter[key]
        lap("reason")

        shared_set = set(shared_facts)
        for key in sorted(concepts):
            shared_set.update(tuple(terms.intern(x) for x in t) for t in self.lexicon.descriptions[key])
        class_terms = {URIRef(c) for c in classes}
        final_shared = build._group_reasoner().combine(shared_inferred, shared_knowledge=shared_set, classes=class_terms)
        warnings = self._warnings(affected_new, affected_old, built, new_entries, new_unpacked, reasoned,
                                  shared_set, final_shared)
        self.page_job.send(self._page_changes(built, affected_new, affected_old, new_entries, new_unpacked,
                                              reasoned, shared_set, final_shared))
        lap("check")

        # The records' new blocks, numbered as in the new output.
        local, evidence, inferred = [], [], []
        record_states: list[RecordState] = []
        group_of = {affected_new[i]: affected_new[group[0]] for group in reasoned.groups for i in group}
        own_by_new = {affected_new[i]: own for i, own in enumerate(reasoned.own)}
        in_groups = {affected_new[i] for group in reasoned.groups if len(group) > 1 for i in group}
        prefixes: set[str] = set()
        inferred_prefixes: set[str] = set()
        owners = {}
        for new, (i, old) in enumerate(built):
            if new in new_entries:
                entry = new_entries[new]
                study = entry.terms[entry.study]
                local.extend((key, text, build.owner_of(new, key, study)) for key, text in entry.local_blocks)
                evidence.extend((key, text, 2 * new) for key, text in entry.evidence)
                if new in in_groups:
                    blocks = render(own_by_new[new], build.OUTPUT_PREFIXES)
                    own_entries, own_prefixes = blocks.entries, blocks.prefixes
                else:
                    own_entries, own_prefixes = entry.inferred_blocks, entry.inferred_prefixes
                inferred.extend((key, text, build.owner_of(new, key, study)) for key, text in own_entries)
                unpacked = new_unpacked[new]
                key, size, mtime = self.keys[i]
                record_states.append(RecordState(
                    path=_relative(self.paths[i], self.corpus), key=key, size=size, mtime=mtime, study=study,
                    base=entry.base, group=group_of[new], exposures=sorted(reasoned.exposures[new]),
                    prefixes=list(entry.prefixes), inferred_prefixes=sorted(own_prefixes),
                    classes=new_classes[new], local_facts=len(set(unpacked.local_facts)),
                    evidence_triples=sum(map(triple_count, unpacked.annotations)),
                    own_inferred=len(own_by_new[new])))
            else:
                previous = state.records[old]
                _, size, mtime = self.keys[i]  # read again if its stamp was not trusted
                record_states.append(RecordState(**{**previous.__dict__, "size": size, "mtime": mtime,
                                                    "group": None}))  # the group: set below
                owners[2 * old], owners[2 * old + 1] = 2 * new, 2 * new + 1
            prefixes.update(record_states[-1].prefixes)
            inferred_prefixes.update(record_states[-1].inferred_prefixes)
        old_to_new = {old: new for new, (_, old) in enumerate(built) if old is not None}
        for new, record in enumerate(record_states):
            if record.group is None:  # an untouched record: its group is untouched too
                record.group = old_to_new[state.records[built[new][1]].group]
        for part in (local, evidence, inferred):
            part.sort()

        # The shared blocks, rendered again (few), and the documents' other pieces.
        shared_blocks = render(shared_set, build.OUTPUT_PREFIXES)
        shared = build._shared_entries(shared_blocks)
        shared_inferred_blocks = render(final_shared, build.OUTPUT_PREFIXES)
        asserted_prefixes = frozenset(prefixes) | shared_blocks.prefixes
        inferred_prefixes = frozenset(inferred_prefixes) | shared_inferred_blocks.prefixes
        vocabulary = _vocabulary(shared_set)
        vocabulary_keys = {subject_key(s) for s, _, _ in vocabulary}
        digest = _digest(vocabulary)
        ontology_text = None
        ontology_info = dict(state.ontology)
        if digest != state.ontology["vocabulary"]:
            ontology_graph = set(build._ontology()).union(vocabulary)
            ontology_text, ontology_prefixes = build.ontology_graph_text(ontology_graph)
            ontology_info = {"vocabulary": digest, "prefixes": sorted(ontology_prefixes), "size": len(ontology_graph)}
        declared = build.graph_names()[1] | frozenset(ontology_info["prefixes"]) | asserted_prefixes
        if not inferred_prefixes <= declared:
            raise _Skip("the inferred triples use a prefix graph.trig does not declare")
        parts = [inferred, build._shared_entries(shared_inferred_blocks)]
        shared_data = [entry for entry in shared if entry[0] not in vocabulary_keys]
        documents = {
            build.ASSERTED_FILE: build.asserted_document(local, shared, evidence, asserted_prefixes),
            build.INFERRED_FILE: build.inferred_document(parts, inferred_prefixes),
            build.GRAPH_FILE: build.graph_document(local, shared, evidence, parts, asserted_prefixes | inferred_prefixes),
            build.TRIG_FILE: build.trig_head(declared, ontology_text, local, shared_data, evidence) + build.trig_tail(parts),
        }
        lap("render")

        plans = {name: plan_patch(pieces, old_index=state.files[name].index, owners=owners)
                 for name, pieces in documents.items()}
        local_facts = sum(r.local_facts for r in record_states)
        evidence_triples = sum(r.evidence_triples for r in record_states)
        inferred_count = sum(r.own_inferred for r in record_states) + len(final_shared)
        new_state = BuildState(
            salt=self.salt, records=record_states, shared_facts=shared_facts, concepts=concepts,
            shared_inferred=shared_inferred, classes=classes,
            # The files as they are: the stamps of those written are set once they are.
            files={**{name: replace(state.files[name], index=plan.index) for name, plan in plans.items()},
                   build.PAGE_FILE: state.files[build.PAGE_FILE]},
            ontology=ontology_info, declared=sorted(declared), warnings=warnings, page=None, strings=state.strings)
        lap("plan")

        # The documents are written by threads (copies and fsync in the kernel) while this one
        # encodes the state and the page's job updates the page.
        page_job = self.page_job
        page: list[Staged] = []
        with ThreadPoolExecutor(max_workers=len(plans)) as pool:
            writing = [pool.submit(self._stage, name, plan) for name, plan in plans.items()]
            try:
                encoded = new_state.encode(scanned_ns=scanned)
                page, new_state.page = page_job.result()
                staged = _results_of(writing)
            except BaseException:
                discard_files(page)
                with suppress(BaseException):
                    discard_files(page_job.result()[0])
                for future in writing:
                    with suppress(BaseException):
                        discard_files(future.result())
                raise
        for path, temporary in staged + page:
            new_state.files[path.name] = FileState.of(temporary, new_state.files[path.name].index)
        sizes = {"ontology": ontology_info["size"], "asserted": local_facts + len(shared_set) - len(vocabulary),
                 "evidence": evidence_triples, "inferred": inferred_count}
        provenance = build._provenance_writer(corpus=self.corpus, records=len(built), started=started, graph_sizes=sizes)
        files = build._write_outputs(self.out_dir, {build.PROVENANCE_FILE: provenance},
                                     also=[lambda: staged, lambda: page])
        lap("write")
        new_state.save(self.out_dir, encoded=encoded)
        # The entries of the records changed or gone (a full build prunes whatever else is stale).
        current = {key[0] for key in self.keys if key is not None}
        kept = {old for _, old in built if old is not None}
        self.cache.remove({r.key for old, r in enumerate(state.records) if old not in kept} - current)
        lap("state")
        written = {path.name for path in files}
        return build.BuildReport(
            corpus=self.corpus, out_dir=self.out_dir, records_built=len(built), errors=tuple(errors),
            triples=local_facts + len(shared_set) + evidence_triples, files=files, records_extracted=self.extracted,
            inferred=inferred_count, study_links=False, shacl_checked=False,
            warnings=tuple(line for _, _, line in warnings), seconds=self.seconds, patched=True,
            unchanged=tuple(name for name in build.OUTPUT_FILES if name in new_state.files and name not in written))

    def _old_shared_inferred(self, affected_old, old_entries, old_unpacked) -> list[list[Triple]]:
        """Per old group of `affected_old`: its inferred triples about shared nodes."""
        groups = defaultdict(list)
        for old in affected_old:
            groups[self.state.records[old].group].append(old)
        parts = []
        for members in groups.values():
            if len(members) == 1:
                parts.append(old_unpacked[members[0]].shared_inferred)
                continue
            owners = [Locality(str(old_unpacked[m].study), old_entries[m].base) for m in members]
            knowledge = itertools.chain.from_iterable(
                self._knowledge(old_unpacked[m], old_entries[m]) for m in members)
            found = build._group_reasoner().reason(knowledge, owners)
            parts.append(split_by_owner(found.inferred, owners)[1])
        return parts

    def _knowledge(self, unpacked, entry: PackedRecord) -> list[Triple]:
        intern = self.terms.intern
        described = [(intern(s), intern(p), intern(o)) for s, p, o in build._described(entry.concepts, self.lexicon)]
        return unpacked.knowledge + described

    def _reason(self, affected_new, built, new_entries, new_unpacked):
        """reason_records over the touched records (their positions in `affected_new`), with
        exposures by new number."""
        alone, owners = [], []
        for new in affected_new:
            unpacked, entry = new_unpacked[new], new_entries[new]
            alone.append(RecordReasoning(set(unpacked.own_inferred) | set(unpacked.shared_inferred),
                                         frozenset(entry.exposures), (unpacked.own_inferred, unpacked.shared_inferred)))
            owners.append(Locality(str(unpacked.study), entry.base))
        found = reason_records(build._group_reasoner(), alone, owners,
                               lambda k: self._knowledge(new_unpacked[affected_new[k]], new_entries[affected_new[k]]))
        found = found._replace(exposures={affected_new[k]: e for k, e in enumerate(found.exposures)})
        return found

    def _warnings(self, affected_new, affected_old, built, new_entries, new_unpacked, reasoned,
                  shared_set, final_shared) -> list[tuple[int, str, str]]:
        compiled = self.ontology
        if inconsistencies(shared_set, final_shared, compiled, annotations=[]):
            raise _Skip("a node that records share is inconsistent")
        old_to_new = {old: new for new, (_, old) in enumerate(built) if old is not None}
        kept = [(old_to_new[owner], node, line) for owner, node, line in self.state.warnings
                if owner not in set(affected_old)]
        found = []
        for group in reasoned.groups:
            members = [affected_new[k] for k in group]
            owners = [Locality(str(new_unpacked[m].study), new_entries[m].base) for m in members]
            facts = [t for m in members for t in itertools.chain(new_unpacked[m].local_facts, new_unpacked[m].shared_facts)]
            inferred = [t for k in group for t in reasoned.own[k]]
            annotations = [a for m in members for a in new_unpacked[m].annotations]
            for inconsistency in inconsistencies(facts, inferred, compiled, annotations=annotations):
                owner = next((m for m, o in zip(members, owners) if o.owns(inconsistency.node)), None)
                if owner is not None:
                    found.append((owner, str(inconsistency.node), str(inconsistency)))
        return sorted(kept + found, key=lambda warning: warning[1])

    # ------------------------------------------------------------------ writing
    def _stage(self, name: str, plan: Patch) -> list[Staged]:
        """The file `plan` makes, staged; nothing where it would be the file as it is (which
        then keeps its modification time, and its pages in the cache)."""
        with open(self.out_dir / name, "rb") as old:
            if plan.reproduces(old.fileno()):
                return []
            staged = stage_files({self.out_dir / name: lambda stream: plan.write(stream, old.fileno())}, binary=True)
            # The old file's pages are not read again: dropped from the page cache here, beside
            # the other files' copies, not one file after another when the renames free them.
            _forget_cached(old.fileno())
            return staged

    def _page_changes(self, built, affected_new, affected_old, new_entries, new_unpacked, reasoned,
                      shared_set, final_shared) -> tuple[list[str], list[PagePart], list[Triple]]:
        """What `_updated_page` is sent: the studies of the touched groups as they were, their
        parts as they are, and the page's shared triples."""
        localities = [Locality(self.state.records[old].study, self.state.records[old].base) if old is not None
                      else Locality(new_entries[new].terms[new_entries[new].study], new_entries[new].base)
                      for new, (_, old) in enumerate(built)]
        owner = CorpusOwners(localities).owner
        parts = []
        for k_group in reasoned.groups:
            members = [affected_new[k] for k in k_group]
            mine = set(members)
            triples = [t for m in members for t in itertools.chain(
                new_unpacked[m].local_facts, (t for t in new_unpacked[m].shared_facts if owner(t[2]) in mine))]
            triples.extend(t for k in k_group for t in reasoned.own[k])
            triples.extend(t for t in final_shared if owner(t[2]) in mine)
            parts.append(PagePart(
                studies=tuple((localities[m].study, localities[m].base) for m in members),
                triples=triples, annotations=[a for m in members for a in new_unpacked[m].annotations]))
        removed = [self.state.records[old].study for old in affected_old]
        return removed, parts, build.page_shared(owner, shared_set, final_shared)


def _forget_cached(fd: int) -> None:
    """Drop the file's pages from the page cache (a hint: where it cannot be given, nothing)."""
    if hasattr(os, "posix_fadvise"):
        with suppress(OSError):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)


def _updated_page(out_dir: Path, text: str, receive: Callable) -> tuple[list[Staged], str]:
    """Stage graph.html, the last build's page (`text`: its state, pagestate.py) with the parts
    of the touched groups taken out and put in again (what `receive()` gives: _page_changes);
    and return the page's new state, as text."""
    try:
        state = PageState.loads(text)
    except PageStateError as error:
        raise _Skip(f"the page's state cannot be used ({error})") from None
    # The page's layout needs networkx: imported while this process waits for the changes, not
    # after, when the files are being written and both cores are busy (0.2-0.35 s).
    import networkx  # noqa: F401

    removed, parts, shared = receive()
    try:
        html, state = update_page(state, removed=removed, added=parts,
                                  shared=None if set(shared) == set(state.shared) else shared)
    except (StalePageState, ValueError) as error:
        raise _Skip(f"the page cannot be updated ({error})") from None
    if _holds(out_dir / build.PAGE_FILE, html):  # the page is as it was: left as it is
        return [], state.dumps()
    return stage_files({out_dir / build.PAGE_FILE: partial(build._write_page, page=html)}), state.dumps()


def _holds(path: Path, text: str) -> bool:
    """Whether the file at `path` holds `text` (UTF-8), as build._write_page writes it."""
    data = text.encode("utf-8")
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False
