"""Pages without content of their own, told from the HTML by the main content that the page marks.

A table of contents, an index, a "see also" list or a link farm is a page whose main content is mostly
links. Main-content extractors drop link lists, so what they return for such a page is its introduction (a
chapter page's few lines of prose) or, when the main content has no text at all, the site's chrome (header,
sidebar, footer): neither is text of the page's own, and the rules that judge the extracted text cannot tell
(the introduction is good prose, the footer has sentences). The HTML can.

The main content is what the page marks as such: its `<main>` elements and elements with `role="main"`
(HTML5 and ARIA landmarks; Sphinx, MkDocs, Docusaurus, most CMS themes write them). A page that marks none is
not judged: without the landmark, the chrome (menus written as plain `<div>`s) would count as main content,
and a short article on a site with a large menu would look like a navigation page.

Before extraction, over the main content's visible text (scripts, styles and tags left out, whitespace not
counted):
- `link_density`: the share of its characters that are inside `<a>` elements (`link_dense` above a threshold);
- a main content without any text (a page whose content a script loads, an empty listing) has nothing of its
  own (`no_main_content`): what an extractor returns for it comes from the chrome.
After extraction:
- `main_share`: how much of the extraction the main content can account for: the main content's visible
  characters over the extraction's (whitespace not counted, a repeated line once), at most 1
  (`outside_main_content` below a threshold). An extractor that finds little in the main element can return
  the sidebar and the footer instead (trafilatura does, on a soft 404 whose main element holds one line): a
  page's content is in its main content, so an extraction several times its size is mostly chrome. A bound,
  not a match of the words: when the main content has the threshold's share of all the extraction's
  characters it costs nothing, where matching each extracted word against the main content's words cost as
  much as resiliparse's extraction itself. It cannot see an extractor that returns chrome while dropping a
  main content as large (not seen on the labelled pages, where the two measures took the same decisions on
  every content page; see benchmarks/RESULTS.md).

Regular expressions over the HTML string, not a DOM, for the reason `curate.extract` gives (resiliparse's DOM
costs microseconds per node handed to Python, and a manual's page has a hundred links in its main content;
lxml would parse every page a second time).
"""

import re
from functools import cached_property, lru_cache

from curate.stage import Drop

# a main landmark: a <main> tag, or an attribute value "main" that belongs to a role attribute; searched for
# on their own and the tag around them found after (one pattern for whole tags is several times slower). Both
# start with a character that has no case ("<", "="), which lets the case-insensitive search skip to them:
# from "role", the search over a Sphinx page cost as much as finding the element's end.
_MAIN = re.compile(r"""<main(?![\w-])|=\s*["']?main(?![\w-])""", re.I)
_ROLE = re.compile(r"role\s*$", re.I)  # before the "=" of a value found by _MAIN
ROLE_LOOKBEHIND = 100
_TAG_NAME = re.compile(r"<([a-z][a-z0-9]*)(?![\w-])", re.I)
# what a reader does not see, removed in one pass: scripts, styles, templates, inline SVG, comments
_HIDDEN = re.compile(r"<(script|style|noscript|template|svg)\b.*?</\1\s*>|<!--.*?-->", re.I | re.S)
_LINK = re.compile(r"<a\b[^>]*>(.*?)</a\s*>", re.I | re.S)
_TAG = re.compile(r"<[^>]*>")


class MainContent:
    """The main content of a page: its HTML (scripts, styles and comments left out), measured on its visible
    characters (tags left out, whitespace not counted, entities as written: &lt; counts 4 characters, a few
    characters of a page, and decoding them would cost a tenth of the measurement). The measures are computed
    on first use."""

    def __init__(self, html_: str):
        self.html = html_

    @cached_property
    def chars(self) -> int:
        return _non_space(_TAG.sub("", self.html))

    @cached_property
    def link_chars(self) -> int:  # of which inside <a> elements
        return _non_space(_TAG.sub("", "".join(_LINK.findall(self.html))))

    @property
    def link_density(self) -> float:
        return self.link_chars / self.chars if self.chars else 0.0


def _non_space(text: str) -> int:
    # str.count is several times faster than splitting on whitespace
    return len(text) - text.count(" ") - text.count("\n") - text.count("\t") - text.count("\r")


@lru_cache(maxsize=64)
def _tags_named(tag: str) -> re.Pattern:
    # opening and closing tags of an element name, self-closing ones left out (they open nothing)
    return re.compile(rf"<(/?){tag}(?![\w-])[^>]*(?<!/)>", re.I)


def _element_end(page: str, tag: str, start: int) -> int:
    """Where the element whose opening tag ends at `start` closes (nested elements of the same name counted);
    the end of the page when it never does."""
    depth = 1
    for t in _tags_named(tag).finditer(page, start):
        depth += -1 if t.group(1) else 1
        if depth == 0:
            return t.end()
    return len(page)


def _attribute_tag(page: str, pos: int, at: int) -> int:
    """Where the tag holding the attribute found at `at` starts; -1 when it is not an attribute of its own
    (data-role="main") or not inside a tag (text that reads role=main)."""
    if at > 0 and (page[at - 1].isalnum() or page[at - 1] in "-_"):
        return -1
    start = page.rfind("<", pos, at)
    return -1 if start < 0 or ">" in page[start:at] else start


def main_fragments(page: str) -> list[str]:
    """The HTML of each main landmark of `page` that is not inside another one, in page order."""
    fragments, pos = [], 0
    while m := _MAIN.search(page, pos):
        if m.group(0)[0] == "<":
            start = m.start()
        else:
            role = _ROLE.search(page, max(pos, m.start() - ROLE_LOOKBEHIND), m.start())
            start = _attribute_tag(page, pos, role.start()) if role else -1
        opening = _TAG_NAME.match(page, start) if start >= 0 else None
        close = page.find(">", m.end())
        if opening is None or close < 0:
            pos = m.end()
            continue
        end = _element_end(page, opening.group(1), close + 1)
        fragments.append(page[start:end])
        pos = end
    return fragments


def main_content(page: str) -> MainContent | None:
    """The page's main content, or None when the page marks none."""
    fragments = main_fragments(page)
    if not fragments:
        return None
    return MainContent(_HIDDEN.sub(" ", "".join(fragments)))


def navigation_drop(main: MainContent, max_link_density: float) -> Drop | None:
    """The Drop of a page whose main content has no text or is more than `max_link_density` link text; None
    for any other."""
    if main.chars == 0:
        return Drop("no_main_content")
    if main.link_density > max_link_density:
        return Drop("link_dense", {"signal": "link_density", "value": round(main.link_density, 6),
                                   "threshold": max_link_density, "main_chars": main.chars})
    return None


def main_share(main: MainContent, text: str) -> float:
    """How much of the extraction `text` the main content can account for: the main content's visible
    characters over those of `text` (whitespace not counted, each distinct line once: an extractor can repeat
    a paragraph, as trafilatura does with the only paragraph of a short page), at most 1."""
    chars = _non_space("\n".join(set(text.split("\n"))))
    return min(1.0, main.chars / chars) if chars else 0.0


def outside_main_drop(main: MainContent, text: str, min_main_share: float) -> Drop | None:
    """The Drop of an extraction (`text`) of which the main content can account for less than
    `min_main_share` (see `main_share`)."""
    # at least the share of all its characters, whitespace and repeated lines included: the share measured
    # is no smaller (the common case, decided without counting; isspace stops at the first other character)
    if main.chars >= min_main_share * len(text) and text and not text.isspace():
        return None
    share = main_share(main, text)
    if share < min_main_share:
        return Drop("outside_main_content", {"signal": "main_share", "value": round(share, 6),
                                             "threshold": min_main_share, "main_chars": main.chars})
    return None
