"""What replaces a found span: presidio-anonymizer operators, one per entity.

  tag   "<EMAIL>"                        presidio "replace"
  mask  "*" for every character          presidio "mask"
  hash  "<EMAIL:3fa1c2d9>"               presidio "custom": blake2b(salt + value), 4 bytes. presidio's own
                                         "hash" operator draws a random salt per entity unless given one and
                                         writes 64+ hex digits; ours is keyed by the run's salt, so the same
                                         value gets the same token across the corpus (and across tasks).
  drop  ""                               presidio "redact"
"""

import hashlib

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
