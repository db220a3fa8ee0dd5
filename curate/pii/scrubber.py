"""The `pii` stage: find e-mails, phone numbers, cards, IBANs, IPs, SSNs and URL credentials with presidio
(curate's fast validated recognizers, offline) and replace them with presidio-anonymizer operators.

```yaml
steps:
  - pii:
      operators: {EMAIL_ADDRESS: hash, CREDIT_CARD: drop}   # others: tag ("<PHONE>")
      salt: "{pii_salt}"                                     # required by hash; pass with --var pii_salt=...
      allow_list: ["noreply@github.com", "10\\.0\\.\\d+\\.\\d+"]
      phone_regions: [US, GB, DE]                            # national formats; default [US]
```

Every string a document carries out of the pipeline is scrubbed: the text, every metadata value (the url, a
title, an author, nested values; not the reader's `source` and `file`), and the id, which, when it holds PII,
becomes `pii-` and a keyed hash of it (stable across runs; keyed by `salt` when there is one).

Documents are never removed, only changed: a document that is nothing but PII ("Contact: <EMAIL>") still
says something about the corpus, and a drop would lose that it was there. Every scrubbed span is written to
`OUT/removed/<stage>/spans/<rank>.jsonl.gz` as (id, start, end, entity, score, operator) with offsets
into the text as it was before scrubbing, never with the value itself; `metadata["pii"]` holds the counts.

In a pipeline config, the records that readers quarantine and stages remove before this step pass through
its scrubber too (`scrub_text`; see curate.config.record_scrubber), so no raw value is left in OUT.
"""

import hashlib
import re
from bisect import bisect_left, bisect_right

from datatrove.data import Document, DocumentsPipeline
from loguru import logger

from curate.pii.engine import NER_ENTITIES, build_analyzer, check_spacy_model
from curate.pii.operators import OPERATORS, Anonymizer, Secret, operator_configs
from curate.pii.recognizers import DEFAULT_ENTITIES, RECOGNIZERS, check_phone_regions, plausible_entities
from curate.quality.code import spans_metadata
from curate.stage import Drop, Stage

# Values that look like PII but are published for documentation and tests: RFC 5737 and RFC 3849 ranges,
# loopback, RFC 2606 example domains. Each is a regex matched against the whole found value.
DEFAULT_ALLOW_LIST = [
    r"192\.0\.2\.\d{1,3}",
    r"198\.51\.100\.\d{1,3}",
    r"203\.0\.113\.\d{1,3}",
    r"(?i)2001:0?db8(?::[0-9a-f]{0,4}){1,7}",
    r"127\.\d{1,3}\.\d{1,3}\.\d{1,3}",
    r"localhost",
    r"(?i)[^@\s]+@(?:[\w-]+\.)*example\.(?:com|org|net)",
]

_ner_off_logged = False

# Short documents are analysed and anonymised in groups of about BATCH_CHARS characters joined by SEPARATOR:
# one presidio call per group instead of one per document (presidio's own work per call was 40% of the time
# on web-sized documents). No recognizer matches across SEPARATOR (no value holds a newline or a NUL, the
# phone recognizer's "ISBN" look-back spans white space only and its context look-back stops at a NUL), so
# each document gets the results it would get alone (tests/test_pii.py checks it). 16,000 characters (about
# 20 web pages' text) already make the per-call work small; larger groups would only hold more documents back
# in the stage.
BATCH_CHARS = 16_000
# Metadata that is not the data's: the reader's validated source name and the user's own input path.
FIELDS_KEPT = ("source", "file")
# The key of the id hash when the step has no `salt`: the hash is then stable across runs but guessable by
# trying values; set `salt` when ids may be e-mail addresses or phone numbers.
ID_KEY = b"curate-pii-id"
SEPARATOR = "\n\x00\n"


class AllowList:
    """Exact values, and regexes matched against the whole value (a plain value is also a valid regex
    that matches itself, so one list serves both)."""

    def __init__(self, entries: list[str]):
        self.exact = frozenset(entries)
        self.regexes = []
        for entry in entries:
            try:
                self.regexes.append(re.compile(entry))
            except re.error:
                pass  # a value with regex syntax in it ("a+b@(x)"): matched exactly only

    def allows(self, value: str) -> bool:
        return value in self.exact or any(r.fullmatch(value) for r in self.regexes)


def non_overlapping(results: list) -> list:
    """Highest score first, then longest, then earliest; a result overlapping a kept one is dropped.
    Sorted by start. The kept results, sorted and disjoint, need only the two neighbours of a new one
    checked (a group of documents has hundreds of results)."""
    starts: list[int] = []
    kept: list = []
    for r in sorted(results, key=lambda r: (-r.score, -(r.end - r.start), r.start)):
        i = bisect_left(starts, r.start)
        if (i == 0 or kept[i - 1].end <= r.start) and (i == len(kept) or r.end <= kept[i].start):
            starts.insert(i, r.start)
            kept.insert(i, r)
    return kept


class PIIScrubber(Stage):
    """Replaces PII spans; see the module docstring.

    entities:      entity types to scrub (default: all seven pattern entities; PERSON and LOCATION only with
                   a spaCy model).
    operators:     "tag" | "mask" | "hash" | "drop", one for all entities or a mapping {entity: operator};
                   entities not in the mapping get "tag".
    salt:          key of the "hash" operator (required by it). Never written to any output or log.
    allow_list:    exact values or regexes (whole-value match) left as they are; null: DEFAULT_ALLOW_LIST.
    spacy_model:   an installed spaCy package or a model folder, for PERSON and LOCATION; null: off.
    min_score:     results scored under this are ignored (phone numbers score 0.75, the rest 0.95; a national
                   number of a country outside phone_regions scores 0.4 where no context says phone).
    phone_regions: ISO 3166 codes of the regions whose national phone formats (no "+country code") are
                   scrubbed without context, e.g. [US, GB, DE, FR, IN]; the first region a number is valid in
                   wins. Numbers written with a country code are scrubbed whatever this says, and national
                   numbers of every country where the context says phone ("Tel.", a signature block; see
                   curate/pii/phones.py). Default: [US].
    """

    name = "🔒 PII"
    batch_chars = BATCH_CHARS
    logs_spans = True

    def __init__(
        self,
        entities: list[str] | None = None,
        operators: dict[str, str] | str | None = None,
        salt: str | None = None,
        allow_list: list[str] | None = None,
        spacy_model: str | None = None,
        min_score: float = 0.5,
        phone_regions: list[str] | None = None,
    ):
        super().__init__()
        known = list(RECOGNIZERS) + (list(NER_ENTITIES) if spacy_model else [])
        entities = list(entities) if entities is not None else DEFAULT_ENTITIES + (["PERSON", "LOCATION"] if spacy_model else [])
        if unknown := [e for e in entities if e not in known]:
            hint = " (PERSON/LOCATION need spacy_model)" if any(e in NER_ENTITIES for e in unknown) else ""
            raise ValueError(f"pii: unknown entities {unknown}{hint}; known: {known}")
        if not entities:
            raise ValueError("pii: entities is empty; list at least one of " + str(known))
        if operators is None or isinstance(operators, str):
            operators = {e: operators or "tag" for e in entities}
        if not isinstance(operators, dict):
            raise ValueError(f"pii: operators must be one of {list(OPERATORS)} or a mapping entity -> operator, got {operators!r}")
        if stray := sorted(set(operators) - set(entities)):
            raise ValueError(f"pii: operators name entities that are not scrubbed: {stray}; entities: {entities}")
        if bad := {e: op for e, op in operators.items() if op not in OPERATORS}:
            raise ValueError(f"pii: unknown operator(s) {bad}; choose from {list(OPERATORS)}")
        self.operators = {e: operators.get(e, "tag") for e in entities}
        if "hash" in self.operators.values() and not (isinstance(salt, str) and salt):
            raise ValueError("pii: the hash operator needs a non-empty `salt` (pass it with --var, keep it secret)")
        if not 0.0 <= min_score <= 1.0:
            raise ValueError(f"pii: min_score must be in [0, 1], got {min_score}")
        if spacy_model:
            check_spacy_model(spacy_model)
        self.entities = entities
        self.salt = Secret(salt) if salt else None
        self.allow_list = list(allow_list) if allow_list is not None else list(DEFAULT_ALLOW_LIST)
        self._allow = AllowList(self.allow_list)
        self.spacy_model = spacy_model
        self.min_score = min_score
        self.phone_regions = check_phone_regions(phone_regions) if phone_regions is not None else ["US"]
        self._analyzer = self._anonymizer = None

    # Built on first use in the worker process: presidio objects (and the hash lambda) do not pickle.
    def _engines(self):
        if self._analyzer is None:
            self._analyzer = build_analyzer(self.entities, self.spacy_model, self.phone_regions)
            self._anonymizer = Anonymizer(operator_configs(self.operators, self.salt))
        return self._analyzer, self._anonymizer

    def find(self, text: str) -> list:
        """Non-overlapping presidio RecognizerResults to scrub, allow-listed values left out."""
        return self.find_many([text])[0]

    def scrub(self, text: str) -> tuple[str, list]:
        """(scrubbed text, the RecognizerResults replaced, with offsets into `text`)."""
        return self.scrub_many([text])[0]

    def scrub_text(self, text: str) -> str:
        """The scrubbed text alone, counted nowhere: for the removed/ and quarantine/ records of the stages
        and readers of a pipeline that scrubs PII (curate.config.record_scrubber)."""
        return self.scrub(text)[0]

    def find_many(self, texts: list[str]) -> list[list]:
        """`find` of each text, analysed in groups (see BATCH_CHARS)."""
        found: list = [None] * len(texts)
        for group, _, results in self._analyzed_groups(texts):
            for i, mine in zip(group, _per_text(results, _starts(texts, group)), strict=True):
                found[i] = mine
        return found

    def scrub_many(self, texts: list[str]) -> list[tuple[str, list]]:
        """`scrub` of each text, analysed and anonymised in groups (see BATCH_CHARS)."""
        out: list = [None] * len(texts)
        for group, joined, results in self._analyzed_groups(texts):
            if not results:
                for i in group:
                    out[i] = (texts[i], [])
                continue
            scrubbed = self._engines()[1].anonymize(joined, results)
            # Only now do the offsets move to each text's own.
            parts = scrubbed.split(SEPARATOR) if len(group) > 1 else [scrubbed]
            for i, part, mine in zip(group, parts, _per_text(results, _starts(texts, group)), strict=True):
                out[i] = (part, mine)
        return out

    def _analyzed_groups(self, texts: list[str]):
        """(indices of a group of texts, the texts joined by SEPARATOR, its results with offsets into the join)."""
        for group in self._groups(texts):
            joined = SEPARATOR.join(texts[i] for i in group)
            yield group, joined, self._find_in(joined)

    def _groups(self, texts: list[str]):
        """Lists of indices of `texts`, in order, of about BATCH_CHARS characters together. Alone: a long text,
        one that holds SEPARATOR itself, and every text when NER is on (spaCy would read across the join)."""
        group, size = [], 0
        for i, text in enumerate(texts):
            if self.spacy_model or len(text) >= BATCH_CHARS or SEPARATOR in text:
                if group:
                    yield group
                    group, size = [], 0
                yield [i]
                continue
            group.append(i)
            size += len(text) + len(SEPARATOR)
            if size >= BATCH_CHARS:
                yield group
                group, size = [], 0
        if group:
            yield group

    def _find_in(self, text: str) -> list:
        analyzer = self._engines()[0]
        entities = plausible_entities(text, self.entities) if not self.spacy_model else self.entities
        if not entities:
            return []
        results = analyzer.analyze(text, language="en", entities=entities, score_threshold=self.min_score)
        results = [r for r in results if not self._allow.allows(text[r.start:r.end])]
        return non_overlapping(results)

    def process(self, doc: Document) -> Document | Drop:
        return self.process_batch([doc])[0]

    def scrub_id(self, doc_id: str) -> str:
        """`doc_id` as it is, or, when it holds PII (an e-mail as an id), `pii-` and a keyed hash of it: still
        one id per document and the same in every run with the same salt, with nothing of the value left."""
        return self._scrub_ids([doc_id])[0]

    def _scrub_ids(self, ids: list[str]) -> list[str]:
        key = self.salt.reveal().encode() if self.salt else ID_KEY
        return [doc_id if not found else "pii-" + hashlib.blake2b(doc_id.encode(), key=key[:64], digest_size=12).hexdigest()
                for doc_id, found in zip(ids, self.find_many(ids), strict=True)]

    def _scrub_fields(self, docs: list[Document]) -> None:
        """Every string in the documents' metadata (the url, a title, an author, nested values) and their ids,
        scrubbed in one batch. `source` is a validated name and `file` the user's own input path: both stay."""
        places, values = [], []
        for doc in docs:
            for holder, key, value in _strings(doc.metadata, skip=FIELDS_KEPT):
                places.append((holder, key))
                values.append(value)
        scrubbed = self.scrub_many(values)
        for (holder, key), value, (new, results) in zip(places, values, scrubbed, strict=True):
            if results:
                holder[key] = new
                self.stat_update("pii_fields")
        for doc, new_id in zip(docs, self._scrub_ids([d.id for d in docs]), strict=True):
            if new_id != doc.id:
                doc.id = new_id
                self.stat_update("pii_ids")

    def process_batch(self, docs: list[Document]) -> list[Document | Drop]:
        self._scrub_fields(docs)
        for doc, (text, results) in zip(docs, self.scrub_many([d.text for d in docs]), strict=True):
            counts: dict[str, int] = {}
            for r in results:
                counts[r.entity_type] = counts.get(r.entity_type, 0) + 1
                self.stat_update("pii_spans", f"pii:{r.entity_type}")
                if self._spans is not None:
                    self._spans.write({
                        "id": doc.id, "stage": self.stage_name or self.name, "reason": f"pii:{r.entity_type}",
                        "entity": r.entity_type, "start": r.start, "end": r.end, "score": round(r.score, 4),
                        "operator": self.operators[r.entity_type],
                    })
            doc.metadata["pii"] = counts
            if results and "code_blocks" in doc.metadata:  # the replacements moved the fenced blocks
                doc.metadata["code_blocks"] = spans_metadata(text)
            doc.text = text
        return docs

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        global _ner_off_logged
        if not self.spacy_model and not _ner_off_logged:
            logger.info("pii: named-entity recognition is off: no spaCy model configured")
            _ner_off_logged = True
        yield from super().run(data, rank, world_size)


def _strings(value, skip=()):
    """(container, key, string) for every string inside a metadata mapping, nested mappings and lists included."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, v in items:
        if isinstance(v, str) and key not in skip:
            yield value, key, v
        elif isinstance(v, (dict, list)):
            yield from _strings(v)


def _starts(texts: list[str], group: list[int]) -> list[int]:
    """Where each text of a group starts in the group's join."""
    starts, at = [], 0
    for i in group:
        starts.append(at)
        at += len(texts[i]) + len(SEPARATOR)
    return starts


def _per_text(results: list, starts: list[int]) -> list[list]:
    """The results of a join split into one list per text, with offsets into that text (changed in place)."""
    mine: list[list] = [[] for _ in starts]
    for r in results:
        k = bisect_right(starts, r.start) - 1
        r.start -= starts[k]
        r.end -= starts[k]
        mine[k].append(r)
    return mine
