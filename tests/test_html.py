"""Code-aware HTML extraction on real pages: <pre> blocks fenced with their spans, for both engines."""

import re

import pytest
from datatrove.data import Document

from curate.extract import HtmlExtract, extract_with_blocks, html_text, resiliparse_extract
from curate.quality.code import find_blocks, split
from helpers import real_pages

ENGINES = ("resiliparse", "trafilatura")


@pytest.fixture(scope="module")
def tutorial() -> str:
    return dict(real_pages(213))["https://docs.python.org/3.11/tutorial/introduction.html"].decode("utf-8")


@pytest.mark.parametrize("engine", ENGINES)
def test_pre_blocks_come_out_fenced_with_their_whitespace(tutorial, engine):
    text = extract_with_blocks(tutorial, engine)
    blocks = find_blocks(text)
    pres = re.findall(r"<pre>(.*?)</pre>", tutorial, re.S)
    assert len(blocks) == len(pres) > 30  # every example of the page
    first = text[blocks[0][0] : blocks[0][1]]
    # the block as written in the page, indentation included (trafilatura's plain text collapses it)
    assert first == "```python3\n" + html_text(pres[0]).strip("\n").rstrip() + "\n```"
    assert "          # ... and now a third!" in first
    assert "curateblock" not in text
    # inline code is in backticks, and the prose keeps its words
    assert "`>>>`" in text and "Using Python as a Calculator" in text


@pytest.mark.parametrize("engine", ENGINES)
def test_html_extract_writes_spans_of_the_blocks(tutorial, engine, tmp_path):
    step = HtmlExtract(engine=engine, timeout=60, code_blocks=True)
    docs = [Document(text=tutorial, id="t", metadata={"content_type": "text/html"})]
    (doc,) = list(step.run(iter(docs)))
    spans = doc.metadata["code_blocks"]
    assert spans and all(kind == "code" for _, _, kind in spans)
    for start, end, _ in spans:
        assert doc.text[start:end].startswith("```") and doc.text[start:end].endswith("```")
    plain = HtmlExtract(engine=engine, timeout=60)
    (doc,) = list(plain.run(iter([Document(text=tutorial, id="t", metadata={"content_type": "text/html"})])))
    assert "```" not in doc.text and "code_blocks" not in doc.metadata


def test_math_and_languages_and_fences_longer_than_the_code():
    page = """<html><body><main><h1>Notes</h1><p>The sum is below, in TeX and in MathML, with an example.</p>
    <div class="math notranslate nohighlight">\\[\\sum_{i=1}^n i = \\frac{n(n+1)}{2}\\]</div>
    <p>MathML with a TeX annotation:</p>
    <math display="block"><semantics><mi>x</mi><annotation encoding="application/x-tex">x^2 + y^2</annotation></semantics></math>
    <p>Inline math <math><mi>z</mi></math> stays in its sentence, and a Markdown example keeps its fence:</p>
    <pre><code class="language-markdown">```python
print(1)
```</code></pre>
    <p>Two tabs of one Node.js example become two blocks:</p>
    <pre><code class="language-js cjs">const a = require('a');</code><code class="language-js mjs">import a from 'a';</code><button>copy</button></pre>
    </main></body></html>"""
    text = extract_with_blocks(page, "resiliparse")
    blocks = [(text[s:e], info) for s, e, info in find_blocks(text)]
    assert blocks[0] == ("```math\n\\sum_{i=1}^n i = \\frac{n(n+1)}{2}\n```", "math")
    assert blocks[1] == ("```math\nx^2 + y^2\n```", "math")
    assert blocks[2] == ("````markdown\n```python\nprint(1)\n```\n````", "markdown")
    assert blocks[3:] == [("```js\nconst a = require('a');\n```", "js"), ("```js\nimport a from 'a';\n```", "js")]
    assert "copy" not in text


def test_prose_of_a_page_leaves_out_its_code(tutorial):
    parts = split(extract_with_blocks(tutorial, "resiliparse"))
    assert "`" not in parts.prose and ">>> 2 + 2" not in parts.prose
    assert any(">>> 2 + 2" in c for c in parts.code) and 0.2 < parts.code_share < 0.6


def test_marked_text_has_the_words_of_the_plain_text(tutorial):
    """Marking changes where code goes, not what the engine keeps: the same words, bar the fences' backticks
    and languages."""
    marked = re.sub(r"^```\w*$", "", extract_with_blocks(tutorial, "resiliparse"), flags=re.M).replace("`", "").split()
    plain = resiliparse_extract(tutorial).split()
    assert sorted(marked) == sorted(plain)
