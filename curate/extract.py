"""HTML to text, as a stage of its own so that failed extractions are counted and kept (`html_extract`; a stage,
so it lives above io/, which only reads and writes).

Two engines, both main-content extractors that drop navigation and boilerplate:
- trafilatura (FineWeb's choice; the default), about 1 MB of HTML per second per core here;
- resiliparse (DCLM's choice: its ablations found the same downstream quality as trafilatura at a fraction
  of the cost), about 24 times faster on the bundled pages; headings and inline code stay in their lines.

With `code_blocks` (off by default: then the text is the engine's, as before), `<pre>` blocks, multi-line `<code>` and display math come out as fenced
blocks (`curate.quality.code`) with their spans in `metadata["code_blocks"]`, whichever the engine: each block
is swapped for a marker in the page's DOM before the engine runs, and its text (whitespace as written) is put
back in the marker's place after. The engine still decides, from the marker's element, whether the block is
main content. Neither engine marks code by itself: resiliparse keeps `<pre>` text as lines among the others,
and trafilatura's text output has no markup either.
"""

import html
import re

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.extractors.base import ExtractorSandbox

from curate.io.warc import HTML_TYPES
from curate.quality.code import fence, spans_metadata
from curate.quality.links import main_content, navigation_drop, outside_main_drop
from curate.stage import Drop, Stage

ENGINES = ("trafilatura", "resiliparse")
# Blocks are found in the HTML string with regular expressions, not in a DOM: every node resiliparse's DOM hands
# to Python costs ~0.1 ms (it keeps a weak reference per node), which made marking the blocks of a Sphinx page
# cost three times its extraction. A `<pre>` cannot contain another, so the first `</pre>` closes it; HTML
# keeps a block's whitespace as written, so its text is its content without tags, entities decoded.
_BLOCK = re.compile(
    r"<(pre|math)\b([^>]*)>(.*?)</\1\s*>"
    # a div of class "math" (Sphinx, MathJax, KaTeX display math); the class is required in the opening tag so
    # that the match never spans an ordinary div (and the <pre> blocks inside it)
    r"""|<(div)\b([^>]*\bclass\s*=\s*["'](?:[^"']*\s)?math\b[^>]*)>(.*?)</div\s*>""",
    re.I | re.S,
)
_DISPLAY_BLOCK = re.compile(r"""\bdisplay\s*=\s*["']block""", re.I)
_TEX = re.compile(r"""<annotation\b[^>]*encoding\s*=\s*["']application/x-tex["'][^>]*>(.*?)</annotation>""", re.I | re.S)
_ALTTEXT = re.compile(r'\balttext\s*=\s*"([^"]*)"', re.I)
# API signatures as Sphinx writes them (<dt class="sig sig-object py">): code, though not in a <code> element.
_SIGNATURE = re.compile(r"""<dt\b([^>]*\bclass\s*=\s*["'](?:[^"']*\s)?sig\b[^>]*)>(.*?)</dt\s*>""", re.I | re.S)
_HEADERLINK = re.compile(r"""<a\b[^>]*\bclass\s*=\s*["']headerlink["'][^>]*>.*?</a\s*>""", re.I | re.S)
_INLINE_CODE = re.compile(r"<code\b([^>]*)>(.*?)</code\s*>", re.I | re.S)
_TAG = re.compile(r"<[^>]*>")
# Inside a <pre>: buttons ("copy") are page controls, not code.
_BUTTON = re.compile(r"<button\b.*?</button\s*>", re.I | re.S)
_CODE_BOUNDARY = re.compile(r"(?<=</code>)\s*(?=<code\b)", re.I)
_BR = re.compile(r"<br\b[^>]*>", re.I)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
# Class names that say which language a block is in: Sphinx (highlight-python3, on a div around the pre),
# Prism and highlight.js (language-js, lang-sh, on the pre or its code).
_LANGUAGE_CLASS = re.compile(r"""\bclass\s*=\s*["'][^"']*?\b(?:highlight|language|lang)-([A-Za-z0-9_+#.-]+)""", re.I)
_NO_LANGUAGE = {"default", "none", "text", "plain", "plaintext"}
_MATH_DELIMITERS = re.compile(r"^\s*(?:\\\[|\$\$)(.*?)(?:\\\]|\$\$)\s*$", re.S)
LANGUAGE_LOOKBEHIND = 300  # characters before a <pre> searched for the class of its wrappers


def resiliparse_extract(html: str) -> str:
    from resiliparse.extract.html2text import extract_plain_text

    # alt texts and link targets are not prose; list bullets keep list items recognisable as such
    return extract_plain_text(html, main_content=True, alt_texts=False, links=False, list_bullets=True)


def trafilatura_extract(html: str, favor_precision: bool, include_tables: bool) -> str | None:
    import trafilatura

    # deduplicate=False: trafilatura's deduplication keeps an LRU cache across documents, which makes a
    # page's text depend on the pages the same process saw before it (and so on the number of tasks).
    return trafilatura.extract(
        html,
        favor_precision=favor_precision,
        include_tables=include_tables,
        include_comments=False,
        deduplicate=False,
    )


def html_text(fragment: str) -> str:
    """The text of an HTML fragment: tags and comments removed, <br> as a newline, entities decoded."""
    return html.unescape(_TAG.sub("", _BR.sub("\n", _COMMENT.sub("", fragment))))


def _language(page: str, start: int, attrs: str, inner: str) -> str:
    """The language named by a class of the block, of a `<code>` inside it, or of the elements just before
    it (Sphinx's wrapper divs); "" when none does."""
    before = page[max(0, start - LANGUAGE_LOOKBEHIND) : start]
    before = before[before.lower().rfind("</pre") + 1 :]  # not the wrapper of the block before
    for where in (attrs, inner[:200], before):
        found = _LANGUAGE_CLASS.findall(where)
        if found:
            lang = found[-1].lower()  # the nearest one before the block
            return "" if lang in _NO_LANGUAGE else lang
    return ""


def _math_source(tag: str, attrs: str, inner: str) -> str:
    if tag == "math":  # MathML: the TeX annotation when there is one, else the alt text, else its text
        if m := _TEX.search(inner):
            return html.unescape(m.group(1)).strip()
        if m := _ALTTEXT.search(attrs):
            return html.unescape(m.group(1)).strip()
        return html_text(inner).strip()
    text = html_text(inner).strip()  # MathJax / KaTeX source, as Sphinx writes it: \[ ... \]
    m = _MATH_DELIMITERS.match(text)
    return m.group(1).strip() if m else text


def mark_blocks(page: str) -> tuple[str, str, list[str]]:
    """`page` with the content of every `<pre>` block, display-math element and multi-line `<code>` replaced
    by a marker, the marker prefix, and the fenced blocks in order (marker i stands for blocks[i]). Inline
    `<code>` gets backticks around its text; inline math stays in its sentence as it is."""
    prefix = "curateblock"
    while prefix in page:  # a marker must not occur in the page itself
        prefix += "x"
    blocks: list[str] = []

    def replace(m: re.Match) -> str:
        name, attrs, inner = (m.group(1), m.group(2), m.group(3)) if m.group(1) else (m.group(4), m.group(5), m.group(6))
        tag = name.lower()
        if tag == "pre":
            # two <code> elements side by side are two versions of one example (Node.js's CommonJS and ES
            # module tabs): a block each
            fenced = []
            for part in _CODE_BOUNDARY.split(_BUTTON.sub("", inner)):
                code = html_text(part).strip("\n").rstrip()
                if code.strip():
                    fenced.append(fence(code, _language(page, m.start(), attrs, part)))
            if not fenced:
                return m.group(0)
            block = "\n\n".join(fenced)
        elif tag == "div" or _DISPLAY_BLOCK.search(attrs):
            source = _math_source(tag, attrs, inner)
            if not source:
                return m.group(0)
            block = fence(source, "math")
        else:
            return m.group(0)
        blocks.append(block)
        return f"<{name}{attrs}>{prefix}{len(blocks) - 1}z</{name}>"

    def quote(m: re.Match) -> str:
        text = html_text(m.group(2))
        if not text.strip():
            return m.group(0)
        if "\n" in text.strip():  # a block of code outside <pre>
            blocks.append(fence(text.strip("\n").rstrip(), _language(page, m.start(), m.group(1), "")))
            return f"<pre{m.group(1)}>{prefix}{len(blocks) - 1}z</pre>"
        ticks = "`" if "`" not in text else "`` "
        return f"<code{m.group(1)}>{ticks}{m.group(2)}{ticks[::-1]}</code>"

    def signature(m: re.Match) -> str:
        return f"<dt{m.group(1)}><code>{_HEADERLINK.sub('', m.group(2)).strip()}</code></dt>"

    lower = page.lower()
    if "<pre" in lower or "math" in lower:
        page = _BLOCK.sub(replace, page)
    if "sig" in lower:
        page = _SIGNATURE.sub(signature, page)
    if "<code" in lower or "sig" in lower:  # after the blocks, so that the <code> inside a <pre> is gone
        page = _INLINE_CODE.sub(quote, page)
    return page, prefix, blocks


def restore_blocks(text: str, prefix: str, blocks: list[str]) -> str:
    """Put each block in the place of its marker, on lines of its own."""
    pieces = re.split(rf"{prefix}(\d+)z", text)
    out = [pieces[0]]
    for i in range(1, len(pieces), 2):
        index = int(pieces[i])
        before = out[-1]
        if before and not before.endswith("\n"):
            out[-1] = before.rstrip(" \t") + "\n"
        out.append(blocks[index] if index < len(blocks) else "")
        after = pieces[i + 1]
        out.append(after if after.startswith("\n") or not after else "\n" + after.lstrip(" \t"))
    return "".join(out)


def extract_with_blocks(page: str, engine: str, favor_precision: bool = True, include_tables: bool = True) -> str | None:
    """The main text of `page` with its code and math blocks fenced (see the module docstring)."""
    marked, prefix, blocks = mark_blocks(page)
    if engine == "resiliparse":
        text = resiliparse_extract(marked)
    else:
        text = trafilatura_extract(marked, favor_precision, include_tables)
    return restore_blocks(text, prefix, blocks) if text and blocks else text


class HtmlExtract(Stage):
    """Replaces the HTML of documents read from WARC files by their main text. Removes, with a reason, pages where the engine finds
    no text, raises, or runs past `timeout` seconds (5 s by default: large Sphinx pages take ~1.5 s in
    trafilatura here, and datatrove's default of 1 s times out on them). `code_blocks: true` fences code and
    math blocks (see the module docstring); it goes with the rules' `code_aware`. Pages without content of
    their own, judged by the main content a page marks (its `<main>` or `role="main"` element; see
    `curate.quality.links`), both off by default: `max_link_density` removes before extraction a page whose
    main content has no text (`no_main_content`) or is more than that share of link text (`link_dense`);
    `min_main_share` removes an extraction that the main content can account for less than that share of
    (its visible characters over the extraction's: `outside_main_content`, the extractor returned the chrome)."""

    name = "html_extract"

    def __init__(
        self,
        engine: str = "trafilatura",
        timeout: float = 5.0,
        favor_precision: bool = True,
        include_tables: bool = True,
        code_blocks: bool = False,
        max_link_density: float | None = None,
        min_main_share: float | None = None,
    ):
        super().__init__()
        if engine not in ENGINES:
            raise ValueError(f"html_extract: engine must be one of {', '.join(ENGINES)}, not {engine!r}")
        if not timeout > 0:  # 0 would time out, and so remove, every page
            raise ValueError(f"html_extract: timeout must be more than 0 seconds, got {timeout}")
        self.engine = engine
        self.timeout = timeout
        self.favor_precision = favor_precision
        self.include_tables = include_tables
        self.code_blocks = code_blocks
        for name, share in (("max_link_density", max_link_density), ("min_main_share", min_main_share)):
            if share is not None and not 0 <= share <= 1:
                raise ValueError(f"html_extract: {name} is a share, from 0 to 1; got {share}")
        self.max_link_density = max_link_density
        self.min_main_share = min_main_share
        self._sandbox: ExtractorSandbox | None = None

    def _extract(self, html: str) -> str | Drop | None:
        # the checks on the main content run in the sandbox with the extraction, so that the timeout covers them
        checked = self.max_link_density is not None or self.min_main_share is not None
        main = main_content(html) if checked else None
        if main is not None and self.max_link_density is not None:
            if drop := navigation_drop(main, self.max_link_density):
                return drop
        if self.code_blocks:
            text = extract_with_blocks(html, self.engine, self.favor_precision, self.include_tables)
        elif self.engine == "resiliparse":
            text = resiliparse_extract(html)
        else:
            text = trafilatura_extract(html, self.favor_precision, self.include_tables)
        if main is not None and self.min_main_share is not None and text and text.strip():
            return outside_main_drop(main, text, self.min_main_share) or text
        return text

    def process(self, doc: Document) -> Document | Drop:
        if doc.metadata.get("content_type") not in HTML_TYPES:
            return doc  # books, JSONL and parquet text pass through unchanged
        try:
            text = self._sandbox.process_document(doc.text, self._extract)
        except TimeoutError:
            return Drop("extraction_timeout", {"timeout_s": self.timeout})
        except EOFError:
            return Drop("extraction_crashed")
        except Exception as e:  # trafilatura/lxml raise many types on odd markup; the page is removed, not lost
            return Drop("extraction_error", {"error": f"{type(e).__name__}: {e}"[:300]})
        if isinstance(text, Drop):
            return text
        if not text or not text.strip():
            return Drop("extraction_empty")
        doc.text = text
        if self.code_blocks:
            doc.metadata["code_blocks"] = spans = spans_metadata(text)
            self.stat_update("code_blocks", value=len(spans))
        return doc

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        # The sandbox runs trafilatura in a child process so a page that hangs it can be timed out and killed.
        with ExtractorSandbox(timeout=self.timeout, warmup_text="<html><body><p>warm up</p></body></html>") as sb:
            self._sandbox = sb
            try:
                yield from super().run(data, rank, world_size)
            finally:
                self._sandbox = None
