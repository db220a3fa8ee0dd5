"""HTML to text, as a stage of its own so that failed extractions are counted and kept.

Two engines, both main-content extractors that drop navigation and boilerplate:
- trafilatura (FineWeb's choice; the default), about 1 MB of HTML per second per core here;
- resiliparse (DCLM's choice: its ablations found the same downstream quality as trafilatura at a fraction
  of the cost), about 24 times faster on the bundled pages; headings and inline code stay in their lines.
"""

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.extractors.base import ExtractorSandbox

from curate.io.warc import HTML_TYPES
from curate.stage import Drop, Stage


ENGINES = ("trafilatura", "resiliparse")


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


class HtmlExtract(Stage):
    """Replaces the HTML of documents read from WARC files by their main text. Removes, with a reason, pages where the engine finds
    no text, raises, or runs past `timeout` seconds (5 s by default: large Sphinx pages take ~1.5 s in
    trafilatura here, and datatrove's default of 1 s times out on them)."""

    name = "html_extract"

    def __init__(
        self,
        engine: str = "trafilatura",
        timeout: float = 5.0,
        favor_precision: bool = True,
        include_tables: bool = True,
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
        self._sandbox: ExtractorSandbox | None = None

    def _extract(self, html: str) -> str | None:
        if self.engine == "resiliparse":
            return resiliparse_extract(html)
        return trafilatura_extract(html, self.favor_precision, self.include_tables)

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
        if not text or not text.strip():
            return Drop("extraction_empty")
        doc.text = text
        return doc

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        # The sandbox runs trafilatura in a child process so a page that hangs it can be timed out and killed.
        with ExtractorSandbox(timeout=self.timeout, warmup_text="<html><body><p>warm up</p></body></html>") as sb:
            self._sandbox = sb
            try:
                yield from super().run(data, rank, world_size)
            finally:
                self._sandbox = None
