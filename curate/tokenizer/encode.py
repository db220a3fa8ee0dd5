"""A trained tokenizer folder, loaded behind one small interface whatever library trained it.

    tok = load_tokenizer("tok/")
    ids = tok.encode_batch(["Call me Ishmael."])[0]
    tok.decode(ids)
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from curate.tokenizer.corpus import pieces

# Documents longer than this are encoded in pieces cut at a newline or a space (`corpus.pieces`), so a 50 MB
# page never becomes one call holding millions of tokens with their offsets; tokens can differ from encoding
# the document whole only at those cuts, and the decoded text is the same.
ENCODE_PIECE_CHARS = 1_000_000


@dataclass
class LoadedTokenizer:
    folder: Path
    card: dict
    library: str  # how it encodes: hf (tokenizers, also for rustbpe's tokenizer.json) or sentencepiece
    impl: object  # tokenizers.Tokenizer or sentencepiece.SentencePieceProcessor
    vocab_size: int
    separator_id: int
    unk_id: int | None
    byte_ids: np.ndarray  # ids of sentencepiece byte-fallback pieces <0xNN> (empty for HF)
    token_bytes: np.ndarray

    @property
    def file(self) -> Path:
        return self.folder / self.card["tokenizer_file"]

    @property
    def name(self) -> str:
        return self.card["recipe"].get("name") or self.folder.name

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text, without special tokens; long texts encoded in pieces (see above)."""
        if any(len(t) > ENCODE_PIECE_CHARS for t in texts):
            out = []
            for t in texts:
                parts = self._encode(list(pieces(t, ENCODE_PIECE_CHARS)))
                out.append([i for part in parts for i in part])
            return out
        return self._encode(texts)

    def _encode(self, texts: list[str]) -> list[list[int]]:
        if self.library == "hf":
            return [e.ids for e in self.impl.encode_batch_fast(texts, add_special_tokens=False)]
        return self.impl.encode(texts)

    def decode(self, ids) -> str:
        ids = [int(i) for i in ids]
        if self.library == "hf":
            return self.impl.decode(ids, skip_special_tokens=False)
        return self.impl.decode(ids)


def load_tokenizer(folder: str) -> LoadedTokenizer:
    """A folder written by `train_tokenizer` (its card.json says which file and library)."""
    folder = Path(folder)
    card_path = folder / "card.json"
    if not card_path.is_file():
        raise ValueError(f"{folder}: no card.json; not a tokenizer folder written by `curate tokenizer train`")
    card = json.loads(card_path.read_text(encoding="utf-8"))
    file = folder / card["tokenizer_file"]
    if not file.is_file():
        raise ValueError(f"{folder}: card.json names {card['tokenizer_file']}, which is missing")
    token_bytes = np.load(folder / "token_bytes.npy")
    library = "sentencepiece" if card["library"] == "sentencepiece" else "hf"  # rustbpe's file is tokenizer.json
    if library == "hf":
        from tokenizers import Tokenizer

        impl = Tokenizer.from_file(str(file))
        # A special token written in a document ("<|endoftext|>" in a page about GPT-2) is text like any other:
        # encoded as text, so the separator never appears inside a document (sentencepiece does the same).
        impl.encode_special_tokens = True
        vocab_size = impl.get_vocab_size(with_added_tokens=True)
        unk = card["recipe"].get("unk_token")
        unk_id = impl.token_to_id(unk) if unk else None
        byte_ids = np.zeros(0, dtype=np.int64)
        separator_id = impl.token_to_id(card["separator"])
    else:
        import sentencepiece as spm

        impl = spm.SentencePieceProcessor(model_file=str(file))
        vocab_size = impl.get_piece_size()
        unk_id = impl.unk_id()
        byte_ids = np.array([i for i in range(vocab_size) if impl.is_byte(i)], dtype=np.int64)
        separator_id = impl.piece_to_id(card["separator"])
    return LoadedTokenizer(folder, card, library, impl, vocab_size, separator_id, unk_id, byte_ids, token_bytes)
