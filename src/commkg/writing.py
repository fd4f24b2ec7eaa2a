"""Writing output files: atomically (never half a file) and deterministically (the same triples
give the same bytes, whatever the order they were added in and whatever PYTHONHASHSEED is).

rdflib's own Turtle serializer is not used: it labels blank nodes at random and leaves the
layout to rdflib's version. The Turtle written here is a plain, sorted form that any Turtle
parser reads: one block per subject (sorted by IRI), `a` first, then the predicates sorted by
IRI, each object list sorted; only ASCII-safe prefixed names, everything else as <IRI>.
"""

from __future__ import annotations

import heapq
import itertools
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from pathlib import Path
from typing import TextIO

from rdflib import RDF, XSD, BNode, Literal, URIRef
from rdflib.graph import Graph

Triple = tuple

# A conservative subset of Turtle's PN_LOCAL: no escapes, no dots, nothing a 2004-era parser
# could misread. Anything else is written as a full <IRI>, which is always valid.
_SAFE_LOCAL = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
_SAFE_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")
_INTEGER = re.compile(r"[+-]?[0-9]+\Z")
_XSD_INTEGER, _XSD_STRING = XSD.integer, XSD.string  # rdflib makes a new term at each XSD.integer
# Characters no IRI may contain. An IRI holding one (an upstream bug, or a DOI with odd
# characters) is written with them percent-encoded, as RFC 3987 maps them to a URI: a \\uXXXX
# escape would be the same IRI, but strict parsers (raptor) rightly refuse it.
_IRI_UNSAFE = re.compile(r'[\x00-\x20<>"{}|^`\\\x7f]')
_STRING_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_STRING_UNSAFE = re.compile(r'["\\\x00-\x1f\x7f]')


def _uchar(character: str) -> str:
    return f"\\u{ord(character):04X}"


def quoted_string(text: str) -> str:
    """A string literal's lexical form in double quotes, escaped for Turtle and N-Triples alike."""
    return '"' + _STRING_UNSAFE.sub(lambda m: _STRING_ESCAPES.get(m.group(), None) or _uchar(m.group()), text) + '"'


# ------------------------------------------------------------------------------ atomic files

def _file_mode() -> int:
    """The mode a newly created file gets here (0o666 less the umask): mkstemp's 0o600 would
    make the outputs unreadable to the other users of a shared folder."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _stage(path: Path, write: Callable, *, binary: bool = False) -> str:
    """Write a complete temporary file beside `path` (same folder, so that the rename is
    atomic) and return its name; on any failure the temporary file is removed. `write` gets a
    UTF-8 text stream, or with `binary` the unbuffered binary file."""
    # The pid in the name lets a later build tell a killed writer's leftover from a live one's.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        with (os.fdopen(handle, "wb", buffering=0) if binary else
              os.fdopen(handle, "w", encoding="utf-8", newline="\n")) as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())  # the bytes are on disk before the rename makes them visible
        os.chmod(temporary, _file_mode())
    except BaseException:
        # BaseException too: a Ctrl-C mid-write must not leave a .tmp file behind either.
        Path(temporary).unlink(missing_ok=True)
        raise
    return temporary


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: nothing is sent, only whether the process exists is checked
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: another user's live process
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """Whether `pid` has ended but is not reaped yet (Linux): a killed build's forked child
    stays so until init gets round to it, and writes nothing more."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False  # no /proc here, or the process has just gone: kill() said it exists
    return stat[stat.rindex(")") + 2:].startswith("Z")  # the state follows "(command) "


def _remove_stale_temporaries(path: Path) -> None:
    """Remove the temporary files of `path` that a writer killed mid-write (SIGKILL, power cut)
    left behind: only those whose process no longer exists, never a live writer's."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d+)\.[^.]+\.tmp\Z")
    try:
        names = os.listdir(path.parent)
    except OSError:
        return  # the folder does not exist yet, or cannot be listed: staging will report it
    for name in names:
        m = pattern.match(name)
        if m and not _alive(int(m.group(1))):
            Path(path.parent, name).unlink(missing_ok=True)


def write_files_atomically(writers: Mapping[Path, Callable[[TextIO], None]]) -> list[Path]:
    """Write several files as one step: each `write(stream)` fills a temporary file in the
    target's folder, and only when all of them are complete are they renamed into place. A
    failure while writing any of them leaves every previous file as it was, and no temporary
    file behind. UTF-8, '\\n' line ends. Returns the paths, in the given order."""
    return commit_files(stage_files(writers))


Staged = tuple[Path, str]  # a target path and the complete temporary file that is to replace it


def stage_files(writers: Mapping[Path, Callable], *, binary: bool = False) -> list[Staged]:
    """The first half of write_files_atomically: every file written to its temporary, none
    renamed yet (commit_files does that; discard_files undoes this). On a failure, the
    temporaries already written are removed. `binary`: as _stage."""
    staged: list[Staged] = []
    try:
        for path, write in writers.items():
            _remove_stale_temporaries(Path(path))
            staged.append((Path(path), _stage(Path(path), write, binary=binary)))
    except BaseException:
        discard_files(staged)
        raise
    return staged


def commit_files(staged: Sequence[Staged]) -> list[Path]:
    """Rename staged temporaries into place, in order; on a failure none is left behind."""
    renamed = 0
    try:
        for path, temporary in staged:
            os.replace(temporary, path)
            renamed += 1
    except BaseException:
        # A failed rename (the target became a folder …): no .tmp stays behind.
        discard_files(staged[renamed:])
        raise
    return [path for path, _ in staged]


def discard_files(staged: Iterable[Staged]) -> None:
    for _, temporary in staged:
        Path(temporary).unlink(missing_ok=True)


def append_to_staged(staged: Staged, write: Callable, *, binary: bool = False) -> None:
    """Write more at the end of a staged file (see stage_files), before it is committed."""
    # Binary: opened for update at its end, not in append mode, to which no kernel copy can go.
    with (open(staged[1], "r+b", buffering=0) if binary else
          open(staged[1], "a", encoding="utf-8", newline="\n")) as stream:
        if binary:
            stream.seek(0, os.SEEK_END)
        write(stream)
        stream.flush()
        os.fsync(stream.fileno())


def write_file_atomically(path: Path, write: Callable[[TextIO], None]) -> Path:
    """One file, written as `write_files_atomically` writes several."""
    return write_files_atomically({Path(path): write})[0]


# ------------------------------------------------------------------------------ sorted Turtle

class _IriForms:
    """How one set of prefixes writes IRIs: prefixed name where that is safe, else <IRI>.

    Shared by every TurtleForms of that set (`_iri_forms`), with the IRIs it has written: a
    build worker makes two TurtleForms a record, and records share most of their IRIs
    (predicates, classes, concepts).
    """

    def __init__(self, prefixes: tuple[tuple[str, str], ...]):
        for prefix, _ in prefixes:
            if not _SAFE_PREFIX.match(prefix):
                raise ValueError(f"prefix {prefix!r} is not a plain Turtle prefix name")
        # Longest namespace first, so `concept:` wins over a shorter namespace that contains it.
        namespaces = sorted(((str(iri), prefix) for prefix, iri in prefixes), key=lambda item: (-len(item[0]), item[1]))
        self._prefix_of: dict[str, str] = {}
        for namespace, prefix in namespaces:
            self._prefix_of.setdefault(namespace, prefix)
        # One regex tries the namespaces in that order, each followed by a safe local name (a
        # namespace whose local name is unsafe gives way to the next): a loop of startswith()
        # in Python cost a tenth of the build's extraction.
        alternatives = "|".join(re.escape(namespace) for namespace, _ in namespaces)
        self._prefixed = re.compile(f"({alternatives})({_SAFE_LOCAL.pattern})") if namespaces else None
        # Bounded: the IRIs that records share stay, the many that one record uses pass through.
        self.written = lru_cache(maxsize=4096)(self._write)

    def _write(self, iri: str) -> tuple[str, str | None]:
        """The IRI as Turtle, and the prefix that uses (None for a full <IRI>)."""
        prefixed = self._prefixed.match(iri) if self._prefixed else None
        if prefixed:
            prefix = self._prefix_of[prefixed.group(1)]
            return f"{prefix}:{prefixed.group(2)}", prefix
        return "<" + _IRI_UNSAFE.sub(lambda m: f"%{ord(m.group()):02X}", iri) + ">", None


@lru_cache(maxsize=16)
def _iri_forms(prefixes: tuple[tuple[str, str], ...]) -> _IriForms:
    return _IriForms(prefixes)


class TurtleForms:
    """How each term is written: prefixed name where that is safe, else <IRI>; literals with
    escapes; blank nodes relabelled _:b1, _:b2 … in a canonical order."""

    def __init__(self, prefixes: Mapping[str, str], blank_labels: Mapping[BNode, str] | None = None):
        self._iri_forms = _iri_forms(tuple(prefixes.items()))
        self._blank_labels = dict(blank_labels or {})
        self._written: dict = {}
        self.used_prefixes: set[str] = set()

    def iri(self, iri: URIRef) -> str:
        written, prefix = self._iri_forms.written(str(iri))
        if prefix is not None:
            self.used_prefixes.add(prefix)
        return written

    def literal(self, literal: Literal) -> str:
        lexical = str(literal)
        if literal.datatype == _XSD_INTEGER and _INTEGER.match(lexical):
            return lexical
        quoted = quoted_string(lexical)
        if literal.language:
            return f"{quoted}@{literal.language}"
        if literal.datatype is not None and literal.datatype != _XSD_STRING:
            return f"{quoted}^^{self.iri(literal.datatype)}"
        return quoted

    def term(self, term) -> str:
        if type(term) is Literal:  # mostly distinct (titles, labels): memoising costs more than it saves
            return self.literal(term)
        # Memoised: a corpus repeats the same predicates, concepts and classes millions of times.
        written = self._written.get(term)
        if written is None:
            if type(term) is URIRef or isinstance(term, URIRef):
                written = self.iri(term)
            elif isinstance(term, BNode):
                written = "_:" + self._blank_labels[term]
            elif isinstance(term, Literal):
                written = self.literal(term)
            else:
                raise TypeError(f"cannot write {term!r} as a Turtle term")
            self._written[term] = written
        return written


def _term_order(term) -> tuple:
    """A total order on RDF terms that depends on nothing but the terms themselves."""
    kind = type(term)  # exact types first: isinstance on rdflib's terms is an ABC check
    if kind is URIRef or (kind not in (BNode, Literal) and isinstance(term, URIRef)):
        return (0, str(term), "", "")
    if isinstance(term, BNode):
        return (1, str(term), "", "")
    return (2, str(term), str(term.datatype or ""), term.language or "")


_RDF_TYPE = str(RDF.type)


def _predicate_order(predicate) -> tuple:
    text = str(predicate)
    return (text != _RDF_TYPE, text)  # rdf:type (`a`) first, as people expect


def _canonical_blank_nodes(triples: list[Triple]) -> tuple[list[Triple], dict[BNode, str]]:
    """Blank nodes get random labels, so relabel them by rdflib's canonical algorithm (RGDA1):
    the same graph then gives the same labels. Graphs without blank nodes skip the cost."""
    # type(), not isinstance: an ABC check per term, over millions of triples, costs seconds.
    if not any(type(s) is BNode or type(o) is BNode for s, _, o in triples):
        return triples, {}
    from rdflib.compare import to_canonical_graph  # only needed for graphs with blank nodes

    graph = Graph()
    for triple in triples:
        graph.add(triple)
    canonical = list(to_canonical_graph(graph))
    blanks = sorted({term for triple in canonical for term in triple if isinstance(term, BNode)}, key=str)
    return canonical, {blank: f"b{number}" for number, blank in enumerate(blanks, start=1)}


def _keyed_blocks(triples: Iterable[Triple], forms: TurtleForms) -> list[tuple[tuple, str]]:
    """(subject_key of the subject, its block) for each subject of `triples`, sorted."""
    # Grouping first and sorting each level on its own computes each sort key once per term,
    # not once per triple: several times faster than sorting the triples at corpus scale.
    by_subject: dict = {}
    for subject, predicate, obj in triples:
        by_subject.setdefault(subject, {}).setdefault(predicate, []).append(obj)
    keyed = []
    term = forms.term
    for subject in sorted(by_subject, key=_term_order):
        predicates = by_subject[subject]
        # Most subjects have a few predicates and most predicates one object: sort only lists.
        lines = []
        for predicate in (sorted(predicates, key=_predicate_order) if len(predicates) > 1 else predicates):
            objects = predicates[predicate]
            if len(objects) > 1:
                objects = sorted(objects, key=_term_order)
            lines.append(("a" if str(predicate) == _RDF_TYPE else term(predicate), [term(obj) for obj in objects]))
        keyed.append((_term_order(subject), format_block(term(subject), lines)))
    return keyed


def format_block(subject: str, predicates: Sequence[tuple[str, Sequence[str]]]) -> str:
    """One subject's block from its written terms: (verb, objects) in the order to write them."""
    lines = []
    for verb, objects in predicates:
        one_line = f"{verb} {', '.join(objects)}"
        if len(objects) == 1 or len(one_line) <= 72:
            lines.append(one_line)
        else:  # one object a line, so that a long list stays readable and diffs stay small
            lines.append(verb + "\n        " + ",\n        ".join(objects))
    return subject + " " + " ;\n    ".join(lines) + " .\n"


def subject_key(term) -> tuple:
    """Where a subject's block goes in a sorted document (`Blocks.entries` are sorted by it)."""
    return _term_order(term)


@dataclass(frozen=True)
class Blocks:
    """Turtle statements rendered once, to be written into one or more documents.

    `entries` are (subject_key of the subject, its block), sorted by key; an entry may hold
    several blocks (a blank line between them) when no other subject of any document it goes
    into sorts between them (the build's workers render each evidence annotation so).
    `prefixes` are the prefixes the blocks use.
    """

    entries: Sequence[tuple[tuple, str]]
    prefixes: frozenset[str] = frozenset()



def render(triples: Iterable[Triple], prefixes: Mapping[str, str], *, blank_prefix: str = "") -> Blocks:
    """The sorted blocks of `triples`; blank nodes labelled _:{blank_prefix}b1, … canonically."""
    canonical, labels = _canonical_blank_nodes(list(triples))
    forms = TurtleForms(prefixes, {blank: blank_prefix + label for blank, label in labels.items()})
    entries = _keyed_blocks(canonical, forms)
    return Blocks(entries, frozenset(forms.used_prefixes))


def _merged(parts: Iterable[Blocks]) -> Iterator[str]:
    """'\\n' + block for each entry of `parts`, merged in subject order (stable: for one subject,
    in the order of `parts`)."""
    return ("\n" + text for _, text in heapq.merge(*(part.entries for part in parts), key=itemgetter(0)))


def _prefixes_used(parts: Iterable[Blocks]) -> frozenset[str]:
    return frozenset().union(*(part.prefixes for part in parts))


def _prefix_lines(used: Iterable[str], prefixes: Mapping[str, str]) -> Iterator[str]:
    return (f"@prefix {prefix}: <{prefixes[prefix]}> .\n" for prefix in sorted(used))


def turtle_lines(graph: Iterable[Triple], prefixes: Mapping[str, str]) -> Iterator[str]:
    """The whole Turtle document for `graph` (an rdflib Graph or any iterable of triples):
    the @prefix lines of the prefixes it uses, then the subject blocks."""
    return write_blocks_lines([render(graph, prefixes)], prefixes)


def write_blocks_lines(parts: Sequence[Blocks], prefixes: Mapping[str, str]) -> Iterator[str]:
    """One Turtle document of all of `parts`, in subject order; a subject in several parts gets
    a block from each, in the order of `parts`."""
    yield from _prefix_lines(_prefixes_used(parts), prefixes)
    yield from _merged(parts)


def write_turtle(stream: TextIO, graph: Iterable[Triple], prefixes: Mapping[str, str]) -> None:
    for chunk in turtle_lines(graph, prefixes):
        stream.write(chunk)


_INDENT_CHUNK = 4 << 20  # characters of a graph's body indented at a time


def indented(text: str) -> str:
    """`text` with each line that is not empty indented by four spaces."""
    # Split and joined: a third faster than a regular expression on hundreds of megabytes.
    return "\n".join(["    " + line if line else line for line in text.split("\n")])


def write_trig(stream: TextIO, graphs: Mapping[str, Iterable[Triple]], prefixes: Mapping[str, str],
               graph_base: str) -> None:
    """Each graph as `<graph_base + name> { … }` of sorted Turtle blocks, one @prefix header for all."""
    # Blank-node labels are per graph: keep them apart in the one document.
    write_trig_blocks(stream, {name: [render(triples, prefixes, blank_prefix=f"{name}_")]
                               for name, triples in graphs.items()}, prefixes, graph_base)


def write_trig_blocks(stream: TextIO, graphs: Mapping[str, Sequence[Blocks]], prefixes: Mapping[str, str],
                      graph_base: str) -> frozenset[str]:
    """Like write_trig, for blocks rendered beforehand: graph `name` holds all of `graphs[name]`.
    Returns the prefixes the header declares."""
    forms = TurtleForms(prefixes)
    names = {name: forms.iri(URIRef(graph_base + name)) for name in graphs}
    declared = _prefixes_used([Blocks((), frozenset(forms.used_prefixes)), *itertools.chain(*graphs.values())])
    stream.writelines(_prefix_lines(declared, prefixes))
    for name, parts in graphs.items():
        _write_trig_graph(stream, names[name], parts)
    return declared


def _write_trig_graph(stream: TextIO, name: str, parts: Sequence[Blocks]) -> None:
    stream.write(f"\n{name} {{")
    # Each line of the graph's blocks indented by four spaces (blank lines stay empty), a few
    # megabytes at a time: a graph of a big corpus is hundreds of megabytes.
    chunk: list[str] = []
    size = 0
    for text in _merged(parts):
        chunk.append(text)
        size += len(text)
        if size >= _INDENT_CHUNK:
            stream.write(indented("".join(chunk)))
            chunk, size = [], 0
    stream.write(indented("".join(chunk)))
    stream.write("}\n")
