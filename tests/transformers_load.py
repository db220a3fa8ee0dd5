"""Loads tokenizer folders the way a transformers user does and reports what came out, as JSON; run in this
environment (transformers 5.x) and, by tests/test_tokenizer.py, in a second one with transformers 4.40.

    python tests/transformers_load.py TEXTS.json FOLDER [FOLDER ...]   # prints {folder: result}
"""

import json
import sys


def load_report(folder: str, texts: list[str]) -> dict:
    import transformers
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    auto = AutoTokenizer.from_pretrained(folder)
    fast = PreTrainedTokenizerFast.from_pretrained(folder)
    batch = auto(texts, padding=True)
    return {
        "version": transformers.__version__,
        "auto_class": type(auto).__name__,
        "roles": {r: getattr(auto, r) for r in ("bos_token", "eos_token", "pad_token", "unk_token")},
        "fast_roles": {r: getattr(fast, r) for r in ("bos_token", "eos_token", "pad_token", "unk_token")},
        "pad_token_id": auto.pad_token_id,
        "padding_side": auto.padding_side,
        "input_ids": batch["input_ids"],
        "attention_mask": batch["attention_mask"],
        "ids": [auto.encode(t, add_special_tokens=False) for t in texts],
        "fast_ids": [fast.encode(t, add_special_tokens=False) for t in texts],
        "decoded": [auto.decode(auto.encode(t, add_special_tokens=False)) for t in texts],
        "vocab_size": len(auto),
    }


if __name__ == "__main__":
    texts = json.load(open(sys.argv[1], encoding="utf-8"))
    print(json.dumps({folder: load_report(folder, texts) for folder in sys.argv[2:]}))
