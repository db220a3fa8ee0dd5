"""The `pii` stage: find e-mails, phone numbers, cards, IBANs, IPs, SSNs and URL credentials with presidio
(curate's fast validated recognizers, offline) and replace them with presidio-anonymizer operators.

```yaml
steps:
  - pii:
      operators: {EMAIL_ADDRESS: hash, CREDIT_CARD: drop}   # others: tag ("<PHONE>")
      salt: "{pii_salt}"                                     # required by hash; pass with --var pii_salt=...
      allow_list: ["noreply@github.com", "10\\.0\\.\\d+\\.\\d+"]
```

Documents are never removed, only changed: a document that is nothing but PII ("Contact: <EMAIL>") still
says something about the corpus, and a drop would lose that it was there. Every scrubbed span is written to
`OUT/removed/<stage>/spans/<rank>.jsonl.gz` as (id, start, end, entity, score, operator) with offsets
into the text as it was before scrubbing, never with the value itself; `metadata["pii"]` holds the counts.
"""

import re

from datatrove.data import Document, DocumentsPipeline
from loguru import logger

from curate.io.records import RecordLog
from curate.pii.engine import NER_ENTITIES, build_analyzer, check_spacy_model
from curate.pii.operators import OPERATORS, Secret, operator_configs
from curate.pii.recognizers import DEFAULT_ENTITIES, RECOGNIZERS, plausible_entities
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
    """Highest score first, then longest, then earliest; a result overlapping a kept one is dropped."""
    kept: list = []
    for r in sorted(results, key=lambda r: (-r.score, -(r.end - r.start), r.start)):
        if all(r.end <= k.start or r.start >= k.end for k in kept):
            kept.append(r)
    return sorted(kept, key=lambda r: r.start)


class PIIScrubber(Stage):
    """Replaces PII spans; see the module docstring.

    entities:     entity types to scrub (default: all seven pattern entities; PERSON and LOCATION only with
                  a spaCy model).
    operators:    "tag" | "mask" | "hash" | "drop", one for all entities or a mapping {entity: operator};
                  entities not in the mapping get "tag".
    salt:         key of the "hash" operator (required by it). Never written to any output or log.
    allow_list:   exact values or regexes (whole-value match) left as they are; null: DEFAULT_ALLOW_LIST.
    spacy_model:  an installed spaCy package or a model folder, for PERSON and LOCATION; null: off.
    min_score:    results scored under this are ignored (phone numbers score 0.75, the rest 0.95).
    """

    name = "🔒 PII"

    def __init__(
        self,
        entities: list[str] | None = None,
        operators: dict[str, str] | str | None = None,
        salt: str | None = None,
        allow_list: list[str] | None = None,
        spacy_model: str | None = None,
        min_score: float = 0.5,
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
        self._analyzer = self._anonymizer = self._configs = None
        self._spans: RecordLog | None = None

    # Built on first use in the worker process: presidio objects (and the hash lambda) do not pickle.
    def _engines(self):
        if self._analyzer is None:
            from presidio_anonymizer import AnonymizerEngine

            self._analyzer = build_analyzer(self.entities, self.spacy_model)
            self._anonymizer = AnonymizerEngine()
            self._configs = operator_configs(self.operators, self.salt)
        return self._analyzer, self._anonymizer, self._configs

    def find(self, text: str) -> list:
        """Non-overlapping presidio RecognizerResults to scrub, allow-listed values left out."""
        analyzer, _, _ = self._engines()
        entities = plausible_entities(text, self.entities) if not self.spacy_model else self.entities
        if not entities:
            return []
        results = analyzer.analyze(text, language="en", entities=entities, score_threshold=self.min_score)
        results = [r for r in results if not self._allow.allows(text[r.start:r.end])]
        return non_overlapping(results)

    def scrub(self, text: str) -> tuple[str, list]:
        results = self.find(text)
        if not results:
            return text, []
        _, anonymizer, configs = self._engines()
        return anonymizer.anonymize(text, results, operators=configs).text, results

    def process(self, doc: Document) -> Document | Drop:
        text, results = self.scrub(doc.text)
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
        doc.text = text
        return doc

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        global _ner_off_logged
        if not self.spacy_model and not _ner_off_logged:
            logger.info("pii: named-entity recognition is off: no spaCy model configured")
            _ner_off_logged = True
        self._spans = RecordLog(f"{self.removed_folder}/spans", rank) if self.removed_folder else None
        try:
            yield from super().run(data, rank, world_size)
        finally:
            if self._spans is not None:
                self._spans.close()
                self._spans = None
