"""Code and math blocks in document text: how they are written, found, and told apart from prose.

`html_extract` writes every `<pre>` block (and display math) of a page as a fenced block, as Markdown does:

    ```python
    for line in open("f"):
        print(line)
    ```

A fence is a line of three or more backticks (longer than any run of backticks inside the block), optionally
followed by a language or "math"; the block ends at a line of at least as many backticks. The text itself is
the record: any later step, in curate or not, finds the blocks again with `find_blocks`, and Markdown inputs
(forum dumps, READMEs) are read the same way. `metadata["code_blocks"]` holds their spans
(`[start, end, kind]`, fences included), recomputed by the steps that cut text (C4's line rules).

Inline `<code>` comes out in backticks (`str()`), as Markdown writes it.

The code-aware rules (`code_aware: true` on the Gopher, C4 and FineWeb rule sets) measure prose signals on
`Parts.prose` only (the text without its blocks and inline code), and judge code with the signals below: the filters of The Stack / StarCoder (line lengths,
alphanumeric share), a share of non-ASCII noise, and repeated lines.
"""

import re
import unicodedata
from dataclasses import dataclass
from typing import Iterator

# Inline code as Markdown writes it: `x = 1`. Not a TeX opening quote (``like this''): the backtick must not
# touch another backtick or a letter on its outer side.
INLINE_CODE = re.compile(r"(?<![`\w])`([^`\n]+)`(?![`\w])")
FENCE_OPEN = re.compile(r"^ {0,3}(`{3,})[ \t]*([^`\n]*?)[ \t]*$", re.M)
_BACKTICKS = re.compile(r"`+")
MIN_REPEATED_LINE_CHARS = 10  # shorter code lines ("}", "end", "else:") repeat in any program
# A document with at least this share of its characters in blocks is judged by the code rules alone: what
# prose it has (a title, a sentence per example) is too little for the prose rules to judge.
MOSTLY_CODE = 0.5


def inline(code: str) -> str:
    """`code` as inline code: in backticks, or in double backticks with spaces when it holds a backtick."""
    return f"`{code}`" if "`" not in code else f"`` {code} ``"


def fence(code: str, info: str = "") -> str:
    """`code` as a fenced block (no newline around it). The fence is longer than any backtick run inside."""
    longest = max((len(m) for m in _BACKTICKS.findall(code)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{info}\n{code}\n{ticks}"


def find_blocks(text: str) -> list[tuple[int, int, str]]:
    """(start, end, info) of every closed fenced block, fences included. An opening fence without a closing
    one is not a block: the rest of the document would otherwise escape the prose rules."""
    if "```" not in text:
        return []
    blocks = []
    pos = 0
    while m := FENCE_OPEN.search(text, pos):
        close = re.compile(rf"^ {{0,3}}`{{{len(m.group(1))},}}[ \t]*$", re.M).search(text, m.end())
        if close is None:
            break
        blocks.append((m.start(), close.end(), m.group(2)))
        pos = close.end()
    return blocks


def block_kind(info: str) -> str:
    return "math" if info == "math" else "code"


def spans_metadata(text: str) -> list[list]:
    """The value of `metadata["code_blocks"]`: [start, end, kind] of each block."""
    return [[s, e, block_kind(info)] for s, e, info in find_blocks(text)]


@dataclass
class Parts:
    prose: str  # the text with every block replaced by a paragraph break, and inline code taken out
    code: list[str]  # the inside of each block, fences left out
    code_share: float  # characters inside blocks / characters of the document (whitespace not counted)


_last: tuple[str, Parts] | None = None


def split(text: str) -> Parts:
    """The prose and code of `text`. The last result is kept: the rule sets of a chain split the same text
    object one after another."""
    global _last
    if _last is not None and _last[0] is text:
        return _last[1]
    parts = _split(text)
    _last = (text, parts)
    return parts


def _split(text: str) -> Parts:
    blocks = find_blocks(text)
    if not blocks:
        return Parts(_without_inline_code(text), [], 0.0)
    prose, code, pos = [], [], 0
    for start, end, _ in blocks:
        prose.append(text[pos:start])
        inner = text[start:end]
        code.append(inner[inner.index("\n") + 1 : inner.rindex("\n")] if inner.count("\n") >= 2 else "")
        pos = end
    prose.append(text[pos:])
    prose_text = _without_inline_code("\n\n".join(p.strip("\n") for p in prose if p.strip()))
    code_chars = sum(len(c) - c.count(" ") - c.count("\n") for c in code)
    total = code_chars + len(prose_text) - prose_text.count(" ") - prose_text.count("\n")
    return Parts(prose_text, code, code_chars / total if total else 0.0)


def _without_inline_code(text: str) -> str:
    return INLINE_CODE.sub("", text) if "`" in text else text


def is_noise(ch: str) -> bool:
    """A non-ASCII character that is neither a letter, a mark nor a digit of some script: U+FFFD, control and
    private-use characters, stray symbols of mojibake ("â€™")."""
    return ch > "\x7f" and unicodedata.category(ch)[0] not in "LMN"


def code_line_signals(code: list[str]) -> Iterator[tuple[str, float]]:
    """Line lengths and character mix of a document's code (The Stack's filters, and non-ASCII noise)."""
    lines = [line for block in code for line in block.split("\n")]
    lengths = [len(line) for line in lines]
    chars = sum(lengths)
    non_blank = sum(1 for line in lines if line.strip())
    joined = "".join(lines)
    yield "code_max_line_length", max(lengths, default=0)
    yield "code_avg_line_length", chars / non_blank if non_blank else 0.0
    yield "code_alnum_ratio", sum(ch.isalnum() for ch in joined) / chars if chars else 0.0
    noise = 0 if joined.isascii() else sum(1 for ch in joined if ch > "\x7f" and is_noise(ch))
    yield "code_noise_ratio", noise / chars if chars else 0.0


def code_repetition_signals(code: list[str]) -> Iterator[tuple[str, float]]:
    """The share of the characters of a document's code lines (those of MIN_REPEATED_LINE_CHARS or more) that
    repeat a line seen before in the same block: generated or pasted code. Across blocks, repeats are how
    examples are written (each one imports what it needs again), so they do not count."""
    repeated = total = 0
    for block in code:
        seen: set[str] = set()
        for line in block.split("\n"):
            line = line.strip()
            if len(line) < MIN_REPEATED_LINE_CHARS:
                continue
            total += len(line)
            if line in seen:
                repeated += len(line)
            seen.add(line)
    yield "code_dup_line_char_frac", repeated / total if total else 0.0
