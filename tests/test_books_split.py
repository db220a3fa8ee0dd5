"""The books reader cutting books into chapters, acts and scenes (or pieces of a stated size), on the bundled
plays and Gutenberg e-texts: what it finds, that every piece is an exact slice of the book with its lineage,
and that a broken book is still quarantined once, whatever the split."""

import gzip
import re
from pathlib import Path

import pytest
import yaml

from curate.io.books import BookReader
from curate.tokenizer.corpus import is_heldout
from helpers import read_all

REPO = Path(__file__).resolve().parent.parent
SPLITS = ["none", "sections", "size"]


def whole_books(folder, tmp_path) -> dict:
    """file -> the book's text as `split: none` reads it."""
    docs, bad = read_all(BookReader(str(folder), "books"), tmp_path / "whole")
    assert bad == []
    return {d.id: d.text for d in docs}


def pieces_by_book(docs) -> dict:
    by_book = {}
    for d in docs:
        by_book.setdefault(d.metadata["file"], []).append(d)
    return {f: sorted(ds, key=lambda d: d.metadata["piece"]) for f, ds in by_book.items()}


@pytest.mark.parametrize("split", ["sections", "size"])
def test_every_piece_is_an_exact_slice_of_its_book_with_its_lineage(data_dir, tmp_path, split):
    books = whole_books(data_dir / "books", tmp_path)
    docs, bad = read_all(BookReader(str(data_dir / "books"), "books", split=split), tmp_path / split)
    assert bad == []
    assert len({d.id for d in docs}) == len(docs)
    by_book = pieces_by_book(docs)
    assert sorted(by_book) == sorted(books)
    for name, pieces in by_book.items():
        text = books[name]
        assert [d.metadata["piece"] for d in pieces] == list(range(len(pieces)))
        assert all(d.metadata["pieces"] == len(pieces) and d.id == f"{name}#{d.metadata['piece']}" for d in pieces)
        offsets = [d.metadata["char_offset"] for d in pieces]
        assert offsets == sorted(offsets)
        for d in pieces:
            assert text[d.metadata["char_offset"] : d.metadata["char_offset"] + len(d.text)] == d.text
        # nothing but white space between the pieces: the book is all there, once
        assert "".join(text.split()) == "".join("".join(d.text.split()) for d in pieces)
        ends = [o + len(d.text) for o, d in zip(offsets, pieces)]
        assert all(end <= nxt for end, nxt in zip(ends, offsets[1:]))
        assert len(pieces) >= 3, name


def test_plays_are_cut_at_their_acts_and_scenes(data_dir, tmp_path):
    docs, bad = read_all(BookReader(str(data_dir / "books"), "books", split="sections"), tmp_path)
    by_book = pieces_by_book(docs)
    hamlet = by_book["hamlet.txt"]
    assert {d.metadata["cut_by"] for d in hamlet} == {"sections"}
    # Hamlet has 20 scenes in 5 acts; an act's heading joins its first scene, a short scene the next one
    sections = " / ".join(d.metadata["section"] for d in hamlet)
    assert len(re.findall(r"\bScene [IVX]+\.", sections)) == 20
    assert len(re.findall(r"\bACT [IVX]+\.|\bAct [IVX]+\.", sections)) == 5
    assert hamlet[0].text.startswith("HAMLET, PRINCE OF DENMARK")  # the list of persons goes with Act I, Scene I
    for d in hamlet[1:]:
        assert d.text.startswith(("Scene", "ACT", "Act")) and d.text.startswith(d.metadata["section"].split(" / ")[0])
    # The First Folio's Latin headings: Actus Primus. Scoena Prima., Scena Secunda., Scaena Tertia., ...
    richard = by_book["richard-iii-first-folio.txt"]
    folio = " / ".join(d.metadata["section"] for d in richard)
    assert len(re.findall(r"\bActus \w+\.", folio)) == 5 and len(re.findall(r"\bSc(?:ena|oena|aena) \w+\.", folio)) == 18
    assert all(d.text.startswith(("Actus", "Scena", "Scoena", "Scaena")) for d in richard[1:])
    # the list of persons and "SCENE: Rome, ..." (where the play is set) are not scene headings
    caesar = " / ".join(d.metadata["section"] for d in by_book["julius-caesar.txt"])
    assert "SCENE: Rome" not in caesar and len(re.findall(r"\bSCENE [IVX]+\.", caesar)) == 18


def test_gutenberg_novels_are_cut_at_their_chapters(data_dir, tmp_path):
    docs, bad = read_all(BookReader(str(data_dir / "books"), "books", split="sections"), tmp_path)
    by_book = pieces_by_book(docs)
    moby = " / ".join(d.metadata.get("section", "") for d in by_book["moby-dick-or-the-whale.txt"])
    assert re.findall(r"CHAPTER (\d+)\.", moby) == [str(k) for k in range(1, 136)]
    assert moby.endswith("Epilogue")
    # Numbered paragraphs of prose and a paragraph that opens with "BOOK III. (DUODECIMO), CHAPTER 1." are not
    # headings (Moby-Dick's Cetology and Fast-Fish chapters)
    assert "Fast-Fish belongs" not in moby and "BOOK III" not in moby and "FOLIO WHALE" not in moby
    # Botchan's chapter headings have no blank line around them
    botchan = by_book["botchan-master-darling.txt"]
    assert [d.metadata.get("section") for d in botchan[1:]] == [
        f"CHAPTER {n}{'' if n in ('I', 'IV') else '.'}"
        for n in "I II III IV V VI VII VIII IX X XI".split()]
    # Sherlock Holmes: twelve adventures, the later ones titled "VII. THE ADVENTURE OF ..." (the table of
    # contents, "   I. A Scandal in Bohemia" and eleven more lines, is not a heading)
    holmes = " / ".join(d.metadata.get("section", "") for d in by_book["the-adventures-of-sherlock-holmes.txt"])
    assert len(re.findall(r"\b[IVX]+\. (?:A |THE )", holmes)) == 12
    assert "Scandal in Bohemia" not in holmes


def test_a_book_without_headings_is_cut_by_size_at_paragraph_breaks(data_dir, tmp_path):
    (tmp_path / "in").mkdir()
    # Hamlet (blank lines between paragraphs) and Botchan (none) less every line a heading could be
    heading = re.compile(r"^(?:ACT|Act|Scene|SCENE|CHAPTER)\b.*\n", re.MULTILINE)
    for name in ("hamlet.txt", "botchan-master-darling.txt"):
        text = (data_dir / "books" / name).read_text(encoding="utf-8-sig").replace("\r\n", "\n")
        (tmp_path / "in" / name).write_text(heading.sub("", text))
    books = whole_books(tmp_path / "in", tmp_path)
    docs, bad = read_all(BookReader(str(tmp_path / "in"), "books", split="sections", piece_chars=8000), tmp_path / "q")
    assert bad == []
    for name, pieces in pieces_by_book(docs).items():
        assert {d.metadata["cut_by"] for d in pieces} == {"size"} and "section" not in pieces[0].metadata
        assert all(len(d.text) <= 8000 for d in pieces) and all(len(d.text) >= 3000 for d in pieces[:-1])
        for d, nxt in zip(pieces, pieces[1:]):
            gap = books[name][d.metadata["char_offset"] + len(d.text) : nxt.metadata["char_offset"]]
            assert not gap.strip()
            # Hamlet has paragraphs: cut at a blank line; Botchan has none: cut at a line break
            assert ("\n\n" in gap) if name == "hamlet.txt" else ("\n" in gap)


def test_split_size_ignores_headings(data_dir, tmp_path):
    docs, bad = read_all(BookReader(str(data_dir / "books"), "books", glob="hamlet.txt", split="size",
                                    piece_chars=30_000), tmp_path)
    assert bad == [] and len(docs) == 6
    assert all(d.metadata["cut_by"] == "size" and len(d.text) <= 30_000 for d in docs)


@pytest.mark.parametrize("split", SPLITS)
def test_a_broken_book_is_quarantined_once_whatever_the_split(data_dir, tmp_path, split):
    hamlet = (data_dir / "books" / "hamlet.txt").read_bytes()
    (tmp_path / "in").mkdir()
    # an invalid byte deep in the book (in its third act): the book goes to quarantine whole, not one piece of it
    (tmp_path / "in" / "latin1.txt").write_bytes(hamlet[:100_000] + b"\xe9t\xe9" + hamlet[100_000:150_000])
    (tmp_path / "in" / "empty.txt").write_bytes(b"\n \n\n")
    (tmp_path / "in" / "cut.txt.gz").write_bytes(gzip.compress(hamlet)[:5000])
    (tmp_path / "in" / "big.txt").write_bytes(hamlet)
    reader = BookReader(str(tmp_path / "in"), "books", split=split, max_doc_bytes=len(hamlet) - 1)
    docs, bad = read_all(reader, tmp_path)
    assert docs == []
    assert sorted((b["file"], b["reason"]) for b in bad) == [
        ("big.txt", "too_large"), ("cut.txt.gz", "truncated_or_corrupt_file"), ("empty.txt", "empty_text"),
        ("latin1.txt", "invalid_utf8")]
    assert reader.stats["records"].total == len(docs) + len(bad)


def test_bad_split_arguments_are_refused_with_the_field_named(data_dir):
    with pytest.raises(ValueError, match="split must be one of none, sections, size, got 'chapters'"):
        BookReader(str(data_dir / "books"), "books", split="chapters")
    with pytest.raises(ValueError, match="piece_chars must be a whole number >= 1"):
        BookReader(str(data_dir / "books"), "books", split="size", piece_chars=0)


def test_the_demo_books_source_has_enough_held_out_documents(data_dir, tmp_path):
    # The demo's reader arguments and its tokenizer's held-out rule: read whole, the 15 books left 3 held-out
    # documents, under the ablation's minimum of 5 (eval.min_heldout_documents).
    demo = yaml.safe_load((REPO / "pipelines" / "demo.yaml").read_text())
    args = next(r["books"] for r in demo["readers"] if "books" in r)
    args["path"] = str(data_dir / "books")
    fraction = yaml.safe_load((REPO / "tokenizer_training" / "demo-bpe-4k.yaml").read_text())["holdout_fraction"]
    docs, bad = read_all(BookReader(**args), tmp_path)
    held_out = [d for d in docs if is_heldout(d.id, fraction)]
    assert bad == [] and len(held_out) >= 30
    assert len({d.metadata["file"] for d in held_out}) >= 10  # spread over the books, not a few whole books
    whole, _ = read_all(BookReader(str(data_dir / "books"), "books"), tmp_path / "whole")
    assert len([d for d in whole if is_heldout(d.id, fraction)]) < 5
