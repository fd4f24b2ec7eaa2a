"""documents.py: a document patched from the previous one by byte ranges is byte for byte the
document written whole, and its index is the whole document's index."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commkg.documents import (SHARED, CannotPatch, DocumentIndex, Fixed, Section, Text, patch_pieces, plan_patch,
                              write_pieces)

# A record's blocks: its study (a DOI) and its nodes under its base, as the build has them,
# the two owned apart (2r + 1 and 2r, as the build numbers them): a new shared block can sort
# between them.
def record_entries(number: int, version: int, record: int) -> list[tuple]:
    owner = 2 * record
    study = (0, f"https://doi.org/10.1/{number:03d}", "", "")
    entries = [(study, f"<{study[1]}> a comm:Study ; v {version} .\n", owner + 1)]
    for node in range(1 + (number + version) % 3):
        key = (0, f"https://w3id.org/commkg/id/doi/10.1/{number:03d}/n{node}", "", "")
        entries.append((key, f"<{key[1]}> v {version} ;\n    text \"é 中 {version}\" .\n", owner))
    return entries


def shared_entries(names: set[str]) -> list[tuple]:
    return [((0, f"https://w3id.org/commkg/concept/{name}", "", ""), f"concept:{name} a skos:Concept .\n", SHARED)
            for name in sorted(names)]


def pieces(records: dict[int, int], shared: set[str], *, only=None, fixed="ontology") -> list:
    """`records`: number → version; `only`: the records whose entries are given (the rest copied)."""
    owners = {number: position for position, number in enumerate(sorted(records))}
    mine = sorted((e for n, v in records.items() if only is None or n in only
                   for e in record_entries(n, v, owners[n])), key=lambda e: e[0])
    evidence = sorted((((0, key[1] + "/evidence", "", ""), f"<{key[1]}/evidence> x {v} .\n", 2 * owners[n])
                       for n, v in records.items() if only is None or n in only
                       for key in [record_entries(n, v, 0)[-1][0]]), key=lambda e: e[0])
    return [Text("@prefix x: <y> .\n"), Fixed("ontology", fixed),
            Section("asserted", [mine, shared_entries(shared), evidence]),
            Text("\n<g> {"), Section("trig", [mine, shared_entries(shared)], indent=True), Text("}\n")]


def written(path: Path, parts) -> DocumentIndex:
    with open(path, "wb", buffering=0) as stream:
        return write_pieces(stream, parts)


def patched(path: Path, old: Path, old_index: DocumentIndex, parts, owners) -> DocumentIndex:
    with open(old, "rb") as source, open(path, "wb", buffering=0) as stream:
        return patch_pieces(stream, parts, old=source.fileno(), old_index=old_index, owners=owners)


def change(tmp_path: Path, before: dict[int, int], after: dict[int, int], shared_before: set[str],
           shared_after: set[str], *, fixed_changed: bool = False) -> None:
    old, new, whole = tmp_path / "old", tmp_path / "new", tmp_path / "whole"
    old_index = written(old, pieces(before, shared_before))
    changed = {n for n in set(before) | set(after) if before.get(n) != after.get(n)}
    new_owner = {n: p for p, n in enumerate(sorted(after))}
    owners = {2 * p + half: 2 * new_owner[n] + half for p, n in enumerate(sorted(before)) if n not in changed
              for half in (0, 1)}
    fixed = "ontology 2" if fixed_changed else None
    index = patched(new, old, old_index, pieces(after, shared_after, only=changed, fixed=fixed), owners)
    whole_index = written(whole, pieces(after, shared_after, fixed="ontology 2" if fixed_changed else "ontology"))
    assert new.read_bytes() == whole.read_bytes()
    assert index.to_json() == whole_index.to_json()
    assert DocumentIndex.from_json(index.to_json()) == index
    # A patch knows when it would write the old file again (and then need not be written).
    plan = plan_patch(pieces(after, shared_after, only=changed, fixed=fixed), old_index=old_index, owners=owners)
    with open(old, "rb") as source:
        assert plan.reproduces(source.fileno()) == (whole.read_bytes() == old.read_bytes())


def test_a_patch_knows_when_it_would_write_the_old_file_again(tmp_path):
    """Nothing changed: the patch reproduces the old file. A record rewritten to text of the
    same length, or a shared block added: it does not."""
    before = {n: 0 for n in range(6)}
    change(tmp_path, before, dict(before), {"CCG"}, {"CCG"})
    old = tmp_path / "old"
    old_index = written(old, pieces(before, {"CCG"}))
    owners = {half: half for half in range(2 * len(before))}
    kept = {k: v for k, v in owners.items() if k // 2 != 3}
    cases = {"nothing": (pieces(before, {"CCG"}, only=set()), owners, True),
             "same length": (pieces({**before, 3: 3}, {"CCG"}, only={3}), kept, False),
             "shared block added": (pieces(before, {"CCG", "PCT"}, only=set()), owners, False)}
    with open(old, "rb") as source:
        plans = {name: plan_patch(parts, old_index=old_index, owners=renumbered)
                 for name, (parts, renumbered, _) in cases.items()}
        assert {name: plan.reproduces(source.fileno()) for name, plan in plans.items()} == \
               {name: expected for name, (_, _, expected) in cases.items()}
    assert plans["same length"].index.size == old.stat().st_size  # so its bytes are compared


def test_an_edited_record_is_rewritten_and_the_rest_copied(tmp_path):
    before = {n: 0 for n in range(10)}
    change(tmp_path, before, {**before, 4: 1}, {"CCG", "PCT"}, {"CCG", "PCT"})


def test_records_added_and_removed_and_shared_blocks_changed(tmp_path):
    before = {n: 0 for n in range(0, 20, 2)}
    after = {n: 0 for n in range(0, 20, 2) if n != 6} | {7: 0, 25: 3}
    change(tmp_path, before, after, {"CCG"}, {"CCG", "STP", "ZZZ"}, fixed_changed=True)


def test_from_nothing_kept_to_everything_new(tmp_path):
    change(tmp_path, {1: 0, 2: 0}, {3: 0}, set(), {"A"})


@settings(max_examples=60, deadline=None)
@given(before=st.dictionaries(st.integers(0, 30), st.integers(0, 2), max_size=12),
       edits=st.dictionaries(st.integers(0, 30), st.one_of(st.none(), st.integers(0, 3)), max_size=6),
       shared_before=st.sets(st.sampled_from("ABCDE")), shared_after=st.sets(st.sampled_from("ABCDE")))
def test_any_edit_gives_the_whole_document(tmp_path_factory, before, edits, shared_before, shared_after):
    after = dict(before)
    for number, version in edits.items():
        if version is None:
            after.pop(number, None)
        else:
            after[number] = version
    change(tmp_path_factory.mktemp("edit"), before, after, shared_before, shared_after)


def test_a_block_inside_another_records_run_cannot_be_patched(tmp_path):
    old = tmp_path / "old"
    a = [((0, "x/a", "", ""), "a .\n", 0), ((0, "x/c", "", ""), "c .\n", 0)]
    index = written(old, [Section("s", [a])])
    inside = [((0, "x/b", "", ""), "b .\n", 1)]
    with pytest.raises(CannotPatch, match="sorts inside the blocks of another record"):
        patched(tmp_path / "new", old, index, [Section("s", [inside])], {0: 0})
