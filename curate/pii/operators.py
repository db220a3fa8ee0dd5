"""What replaces a found span: presidio-anonymizer operators, one per entity.

  tag   "<EMAIL>"                        presidio "replace"
  mask  "*" for every character          presidio "mask"
  hash  "<EMAIL:3fa1c2d9>"               presidio "custom": blake2b(salt + value), 4 bytes. presidio's own
                                         "hash" operator draws a random salt per entity unless given one and
                                         writes 64+ hex digits; ours is keyed by the run's salt, so the same
                                         value gets the same token across the corpus (and across tasks).
  drop  ""                               presidio "redact"

`Anonymizer` applies them: presidio-anonymizer's operators, each created and validated once, and the text
built in one pass. presidio's AnonymizerEngine validates every value's operator and parameters again and
rebuilds the whole text once per value: with many short documents scrubbed together (scrubber.BATCH_CHARS)
that was a quarter of the stage's time.
"""

import hashlib
import re

OPERATORS = ("tag", "mask", "hash", "drop")

TAGS = {
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "CREDIT_CARD": "CREDIT_CARD",
    "IBAN_CODE": "IBAN",
    "IP_ADDRESS": "IP",
    "US_SSN": "SSN",
    "URL_WITH_CREDENTIALS": "CREDENTIALS",
    "PERSON": "PERSON",
    "LOCATION": "LOCATION",
    "NRP": "NRP",
    "DATE_TIME": "DATE_TIME",
}


class Secret:
    """A value kept out of every log and JSON dump: datatrove writes each step's attributes to
    executor.json, falling back to `str()` for objects it does not know."""

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __str__(self) -> str:
        return "<secret>"

    __repr__ = __str__


def tag(entity: str) -> str:
    return TAGS.get(entity, entity)


def salted_hash(salt: str, value: str) -> str:
    return hashlib.blake2b((salt + value).encode("utf-8"), digest_size=4).hexdigest()


def operator_configs(operators: dict[str, str], salt: Secret | None) -> dict:
    """{entity: presidio OperatorConfig} for presidio-anonymizer's AnonymizerEngine."""
    from presidio_anonymizer.entities import OperatorConfig

    configs = {}
    for entity, op in operators.items():
        if op == "tag":
            configs[entity] = OperatorConfig("replace", {"new_value": f"<{tag(entity)}>"})
        elif op == "mask":
            configs[entity] = OperatorConfig("mask", {"masking_char": "*", "chars_to_mask": 1 << 30, "from_end": False})
        elif op == "hash":
            key, label = salt.reveal(), tag(entity)
            configs[entity] = OperatorConfig("custom", {"lambda": lambda value, key=key, label=label: f"<{label}:{salted_hash(key, value)}>"})
        elif op == "drop":
            configs[entity] = OperatorConfig("redact", {})
        else:
            raise ValueError(f"pii: unknown operator {op!r} for {entity}; choose one of {list(OPERATORS)}")
    return configs


# presidio's AnonymizerEngine (merge_entities_with_spaces, its default) joins two values of one entity type
# when the text between them matches this: spaces only ("a@b.de  c@d.de" -> one <EMAIL>), and, as its "$"
# allows, spaces and one trailing newline. Kept as it is so that outputs stay presidio's.
_SPACES_BETWEEN = re.compile(r"^( )+$")


class Anonymizer:
    """`anonymize(text, results)` -> the text with each result replaced by its entity's operator. The results
    must not overlap (scrubber.non_overlapping); outputs are those of presidio's AnonymizerEngine."""

    def __init__(self, configs: dict):
        from presidio_anonymizer.operators import OperatorsFactory, OperatorType

        factory = OperatorsFactory()
        self._operators = {}
        for entity, config in configs.items():
            operator = factory.create_operator_class(config.operator_name, OperatorType.Anonymize)
            params = {**config.params, "entity_type": entity}
            operator.validate(params=params)
            self._operators[entity] = (operator, params)

    def anonymize(self, text: str, results: list) -> str:
        pieces, at = [], 0
        for entity, start, end in _merge_spaced(text, results):
            operator, params = self._operators[entity]
            pieces += [text[at:start], operator.operate(text=text[start:end], params=params)]
            at = end
        pieces.append(text[at:])
        return "".join(pieces)


def _merge_spaced(text: str, results: list) -> list[tuple[str, int, int]]:
    """(entity, start, end) in order, values of one type with only spaces between them joined (see above)."""
    spans: list[tuple[str, int, int]] = []
    for r in sorted(results, key=lambda r: (r.start, r.end)):
        if spans and spans[-1][0] == r.entity_type and _SPACES_BETWEEN.search(text[spans[-1][2]:r.start]):
            spans[-1] = (r.entity_type, spans[-1][1], r.end)
        else:
            spans.append((r.entity_type, r.start, r.end))
    return spans
