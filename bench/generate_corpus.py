"""Generate a synthetic corpus of N study records for benchmarks.

    python bench/generate_corpus.py 1000 /tmp/corpus-1000 [--seed 7]

Each record is recombined from the parts of the real records — the bundled sample
(src/commkg/data or corpus/*.txt) and, when present, the dev records in
/work/shared/corpus/dev — split with `commkg.corpus.parse_record`:

* an article takes the affiliation/author lines of one real record, a citation line built
  from the journal/year/volume of another with a fresh e-locator and DOI (unique per
  generated record; the DOI contains the e-locator, as BMJ Open's do), the English paragraphs
  of a third and the Chinese translation of a fourth;
* a commentary (about as often as in the real records) takes the body and "Related" lines of a
  real commentary, and its Links line is rewritten to cite one generated article by journal,
  year, volume and e-locator — so the reasoner's owl:hasKey can still link the two.

The output depends only on N, the seed and the real records. Nothing runs at import.
"""

from __future__ import annotations

import argparse
import random
import re
from dataclasses import dataclass
from pathlib import Path

from commkg.citation import parse_citation, parse_cited_reference
from commkg.corpus import Record, Segment, find_records, parse_record

ROOT = Path(__file__).resolve().parent.parent
SEED_DIR = ROOT / "corpus"
DEV_DIR = Path("/work/shared/corpus/dev")
DOI_PREFIX = "10.5555/commkg-bench"  # 10.5555 is the DOI registrant reserved for examples


@dataclass(frozen=True)
class Parts:
    """What the generator can borrow from the real records, each list in corpus order."""

    headers: list[list[str]]  # the affiliation and author lines of one record, in file order
    citations: list[tuple[str, str, str]]  # (journal, year, volume) of a citation line
    abstracts: list[list[str]]  # the English lines (paragraphs and headings) of one article
    translations: list[list[str]]  # the Chinese lines of one record
    commentaries: list[tuple[list[str], str, list[str]]]  # (body lines, link line, related lines)


def load_records(dirs: list[Path]) -> list[Record]:
    """The records of every folder in `dirs` that exists (missing folders are skipped)."""
    records = []
    for folder in dirs:
        if folder.is_dir():
            for path in find_records(folder):
                records.append(parse_record(path.read_text(encoding="utf-8"), path))
    return records


def _texts(segments: tuple[Segment, ...]) -> list[str]:
    return [s.text for s in segments]


def collect_parts(records: list[Record]) -> Parts:
    parts = Parts([], [], [], [], [])
    for record in records:
        header = sorted(record.affiliations + record.authors, key=lambda s: s.start)
        if header:
            parts.headers.append(_texts(tuple(header)))
        if record.translations:
            parts.translations.append(_texts(record.translations))
        if record.is_commentary:
            cited = [s for s in record.links if parse_cited_reference(s.text) is not None]
            if cited:
                parts.commentaries.append(
                    (_texts(record.paragraphs), cited[0].text, _texts(record.related)))
            continue
        if record.citation is not None:
            c = parse_citation(record.citation.text)
            volume = re.match(r"\d+", c.volume.value) if c and c.volume else None
            if c and c.journal and c.year and volume:
                parts.citations.append((c.journal.value, c.year.value, volume.group()))
        if record.paragraphs:
            parts.abstracts.append(_texts(record.paragraphs))
    missing = [name for name in ("headers", "citations", "abstracts") if not getattr(parts, name)]
    if missing:
        raise SystemExit(f"the real records give no {', '.join(missing)} to recombine")
    return parts


@dataclass(frozen=True)
class Article:
    journal: str
    year: str
    volume: str
    e_locator: str
    doi: str


def _article(parts: Parts, rng: random.Random, number: int, seed: int) -> tuple[Article, list[str]]:
    journal, year, volume = rng.choice(parts.citations)
    e_locator = f"e{seed % 100:02d}{number:06d}"  # unique per (seed, record)
    article = Article(journal, year, volume, e_locator, f"{DOI_PREFIX}-{year}-{e_locator[1:]}")
    lines = list(rng.choice(parts.headers))
    lines.append(f"{journal}. {year};{volume}:{e_locator}. doi: {article.doi}.")
    lines += rng.choice(parts.abstracts)
    if parts.translations and rng.random() < 0.8:
        lines += rng.choice(parts.translations)
    return article, lines


def _commentary(parts: Parts, rng: random.Random, cites: Article) -> list[str]:
    body, link, related = rng.choice(parts.commentaries)
    reference = parse_cited_reference(link)
    head = link[:reference.journal.start].rstrip()  # the authors and title of the real link
    link = f"{head} {cites.journal}, {cites.year}, {cites.volume}:{cites.e_locator}."
    return [*body, "Links", link, *related]


def generate(n: int, out_dir: Path, *, seed: int = 0, sources: list[Path] | None = None) -> list[Path]:
    """Write `n` records into `out_dir` (created if needed); returns their paths."""
    records = load_records(sources if sources is not None else [SEED_DIR, DEV_DIR])
    parts = collect_parts(records)
    rng = random.Random(seed)
    share = sum(r.is_commentary for r in records) / len(records) if parts.commentaries else 0.0
    kinds = ["article" if i == 0 or rng.random() >= share else "commentary" for i in range(n)]

    out_dir.mkdir(parents=True, exist_ok=True)
    articles: dict[int, Article] = {}
    texts: dict[int, list[str]] = {}
    for i, kind in enumerate(kinds):
        if kind == "article":
            articles[i], texts[i] = _article(parts, rng, i, seed)
    article_numbers = sorted(articles)
    paths = []
    for i, kind in enumerate(kinds):
        lines = texts[i] if kind == "article" else _commentary(
            parts, rng, articles[rng.choice(article_numbers)])
        path = out_dir / f"bench_{i:06d}_{kind}.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("n", type=int, help="number of records to write")
    parser.add_argument("out_dir", type=Path, help="folder to write them into (created if needed)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--source", type=Path, action="append", dest="sources",
                        help=f"folder of real records to recombine (repeatable; default "
                             f"{SEED_DIR} and {DEV_DIR} if present)")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("n must be at least 1")
    paths = generate(args.n, args.out_dir, seed=args.seed, sources=args.sources)
    commentaries = sum("_commentary" in p.name for p in paths)
    print(f"wrote {len(paths)} records ({commentaries} commentaries) to {args.out_dir}")


if __name__ == "__main__":
    main()
