"""A seeded evaluation set for PII scrubbing: real sentences (the bundled Wikipedia articles) with planted
PII in realistic sentence templates and planted hard negatives (numbers that look like PII but are not, each
next to phone-like context), every plant's offsets recorded. Phone numbers come in the formats and places of
evalset_phones.py.

    docs = build_evalset(seed=0)            # list[EvalDoc]; the same seed gives the same documents
    docs = build_evalset(seed=0, phone_regions=("GB", "IN"))   # + national phone numbers, kinds PHONE_NUMBER:GB...
    report = score(docs, [scrubbed texts])  # recall per entity, phone format and place; survival per negative kind

Scoring reads only the output text, so it serves any scrubber (ours, presidio, datatrove): a planted PII
value is caught when it no longer appears in its document's output; a hard negative survives when it does.
"""

import ipaddress
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from kits.pii_phones import (
    COMPANIES, NAMES, PHONE_FORMATS, PHONE_PLACES, PROSE, PhoneFormat, digits, national_phone, phone_template,
)
from curate.config import DATA_DIR
from curate.pii.recognizers import IBAN_LENGTHS, luhn_ok

WIKI = DATA_DIR / "wiki" / "enwiki.jsonl"


@dataclass
class Plant:
    kind: str  # an entity type (EMAIL_ADDRESS...) or a hard-negative kind ("version", "date_iso"...)
    start: int
    end: int
    value: str
    pii: bool
    fmt: str = ""  # a phone number's format (evalset_phones.PHONE_FORMATS)
    place: str = ""  # where a phone number is written (evalset_phones.PHONE_PLACES)


@dataclass
class EvalDoc:
    id: str
    text: str
    plants: list[Plant] = field(default_factory=list)


# --- PII generators --------------------------------------------------------------------------------------

FIRST = ["anna", "james", "li", "maria", "oluwaseun", "sophie", "rahul", "chen", "fatima", "lukas", "emma", "noah"]
LAST = ["schmidt", "okafor", "garcia", "nguyen", "kowalski", "smith", "tanaka", "rossi", "dubois", "patel", "o-neil"]
DOMAINS = ["gmail.com", "yahoo.co.uk", "uni-heidelberg.de", "mail.ru", "outlook.fr", "protonmail.ch", "cs.stanford.edu",
           "acme-corp.io", "posteo.de", "web.de", "company.co.jp", "xn--mnchen-3ya.de"]


def email(rng):
    f, l = rng.choice(FIRST), rng.choice(LAST)
    local = rng.choice([f"{f}.{l}", f"{f[0]}{l}{rng.randint(1, 99)}", f"{f}_{l}", f"{f}+news", f"{l}.{f}"])
    return f"{local}@{rng.choice(DOMAINS)}"


def _luhn_complete(prefix: str, length: int, rng) -> str:
    body = prefix + digits(rng, length - len(prefix) - 1)
    for d in "0123456789":
        if luhn_ok(body + d):
            return body + d
    raise AssertionError("unreachable")


def card(rng):
    kind = rng.randrange(4)
    if kind == 0:
        number = _luhn_complete("4", 16, rng)
    elif kind == 1:
        number = _luhn_complete(str(rng.randint(51, 55)), 16, rng)
    elif kind == 2:
        number = _luhn_complete(str(rng.randint(2221, 2720)), 16, rng)
    else:
        number = _luhn_complete(rng.choice(["34", "37"]), 15, rng)
        sep = rng.choice(["", " ", "-"])
        return sep.join([number[:4], number[4:10], number[10:]])
    sep = rng.choice(["", " ", "-"])
    return sep.join(number[i:i + 4] for i in range(0, 16, 4))


def iban(rng):
    country = rng.choice(["DE", "GB", "FR", "ES", "NL", "IT"])
    n = IBAN_LENGTHS[country] - 4
    if country == "GB":
        bban = rng.choice(["NWBK", "BARC", "MIDL", "LOYD"]) + digits(rng, n - 4)
    elif country == "NL":
        bban = rng.choice(["ABNA", "INGB", "RABO"]) + digits(rng, n - 4)
    elif country == "IT":
        bban = rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") + digits(rng, n - 1)
    else:
        bban = digits(rng, n)
    check = 98 - int("".join(str(int(c, 36)) for c in bban + country + "00")) % 97
    value = f"{country}{check:02d}{bban}"
    if rng.random() < 0.5:
        value = " ".join(value[i:i + 4] for i in range(0, len(value), 4))
    return value


def ip(rng):
    if rng.random() < 0.6:
        while True:
            a = ipaddress.IPv4Address(rng.getrandbits(32))
            if a.is_global and not str(a).startswith(("192.0.2.", "198.51.100.", "203.0.113.")):
                return str(a)
    while True:
        a = ipaddress.IPv6Address((0x2 << 124) | rng.getrandbits(124))  # 2000::/3, global unicast
        if a.is_global and not str(a).lower().startswith("2001:db8"):
            return a.compressed if rng.random() < 0.6 else a.exploded


def ssn(rng):
    while True:
        area = rng.randint(1, 899)
        if area != 666:
            return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def url_credentials(rng):
    user = rng.choice(["admin", "deploy", "root", "svc_backup", rng.choice(FIRST)])
    password = "".join(rng.choice("abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789!$*_-") for _ in range(rng.randint(8, 16)))
    host = rng.choice(["db.internal.acme.io", "ftp.files-host.net", "git.corp.example-mail.de", "10.2.3.4", "cache.prod.svc"])
    scheme = rng.choice(["https", "http", "ftp", "postgres", "mysql", "redis", "mongodb", "amqp"])
    return f"{scheme}://{user}:{password}@{host}{rng.choice(['', ':5432', '/data', '/repo.git'])}", f"{user}:{password}"


PII = {
    "EMAIL_ADDRESS": (email, ["For questions, write to {} before Friday.", "Contact: {}", "The author ({}) replied within a day.",
                              "Send the signed form to {}, not to the office.", "<{}>"]),
    # Phone numbers: `per_format` of each of evalset_phones.PHONE_FORMATS, each in a place that suits it.
    "PHONE_NUMBER": (None, []),
    "CREDIT_CARD": (card, ["Card number: {}", "He paid with the card {} on the same day.", "Charged to {}."]),
    "IBAN_CODE": (iban, ["Please transfer the fee to IBAN {}.", "Account: {}", "Bank details {} (reference 17)."]),
    "IP_ADDRESS": (ip, ["The request came from {} at night.", "Client {} was banned.", "Connected to {}", "Host: {}"]),
    "US_SSN": (ssn, ["SSN: {}", "His social security number {} appeared on the form.", "Social Security No. {}."]),
    "URL_WITH_CREDENTIALS": (url_credentials, ["Clone from {} with the read-only key.", "DATABASE_URL={}", "Mirror: {}"]),
}

# --- hard negatives ------------------------------------------------------------------------------------


def isbn13(rng):
    body = "978" + digits(rng, 9)
    check = (10 - sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(body)) % 10) % 10
    d = body + str(check)
    return rng.choice([f"{d[:3]}-{d[3]}-{d[4:6]}-{d[6:12]}-{d[12]}", f"ISBN {d}", f"{d[:3]} {d[3]} {d[4:6]} {d[6:12]} {d[12]}"])


def isbn10(rng):
    body = digits(rng, 9)
    check = (11 - sum(int(x) * (10 - i) for i, x in enumerate(body)) % 11) % 11
    d = body + ("X" if check == 10 else str(check))
    return f"ISBN {d[0]}-{d[1:4]}-{d[4:9]}-{d[9]}"


MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]


def _dmy(r):
    return r.randint(1, 28), r.randint(1, 12), r.randint(1900, 2030)


def date_dotted(r):
    d, m, y = _dmy(r)
    return r.choice([f"{d:02d}.{m:02d}.{y}", f"{d}.{m}.{y}", f"{d:02d}.{m:02d}.{y % 100:02d}", f"{y}.{m:02d}.{d:02d}"])


def date_slash(r):
    d, m, y = _dmy(r)
    return r.choice([f"{d:02d}/{m:02d}/{y}", f"{m:02d}/{d:02d}/{y}", f"{m}/{d}/{y % 100:02d}"])


def date_dash(r):
    d, m, y = _dmy(r)
    return r.choice([f"{d:02d}-{m:02d}-{y}", f"{m:02d}-{d:02d}-{y}"])


def date_words(r):
    d, m, y = _dmy(r)
    return r.choice([f"{d} {MONTHS[m - 1]} {y}", f"{MONTHS[m - 1]} {d}, {y}", f"{MONTHS[m - 1][:3]} {d:02d} {y}"])


def price(r):
    a, b, c, cents = r.randint(1, 999), f"{r.randint(0, 999):03d}", f"{r.randint(0, 999):03d}", f"{r.randint(0, 99):02d}"
    return r.choice([f"${a},{b}.{cents}", f"${a}.{cents}", f"€{a}.{b},{cents}", f"{a} {b},00 €", f"£{a % 100}.{cents}",
                     f"USD {a},{b},{c}", f"€ {a % 100}.{b}.{c}"])


def version_build(r):
    return r.choice([f"{r.randint(1, 9)}.{r.randint(0, 9)}.{r.randint(1000, 9999)}.{r.randint(1000, 9999)}",
                     f"10.0.{r.randint(10000, 22999)}.{r.randint(1, 9999)}",
                     f"{r.randint(1, 19)}.{r.randint(0, 9)}.{r.randint(100, 9999)}.{r.randint(10, 99999)}"])


def debian_version(r):
    return f"{r.randint(1, 3)}:{r.randint(1, 3)}.{r.randint(0, 40)}.{r.randint(0, 9)}-{r.randint(1, 9)}+deb{r.randint(10, 12)}u{r.randint(1, 5)}"


def time_of_day(r):
    half = ["00", "30"]
    return r.choice([f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}",
                     f"{r.randint(6, 11):02d}.{r.choice(half)}-{r.randint(12, 20)}.{r.choice(half)}", f"{r.randint(1, 12)}:{r.randint(0, 59):02d} pm"])


def large_number(r):
    sep = r.choice([",", ".", " ", "\u00a0"])
    return sep.join([str(r.randint(1, 999 if sep in ",." else 99))] + [f"{r.randint(0, 999):03d}" for _ in range(r.randint(2, 4))])


NEGATIVES = {
    "date_iso": lambda r: f"{r.randint(1900, 2030)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
    "date_dotted": date_dotted,
    "date_slash": date_slash,
    "date_dash": date_dash,
    "date_words": date_words,
    "version": lambda r: rng_choice(r, [f"{r.randint(0, 9)}.{r.randint(0, 30)}.{r.randint(0, 20)}",
                                         f"v{r.randint(0, 9)}.{r.randint(0, 20)}.{r.randint(0, 20)}-rc{r.randint(1, 5)}"]),
    "version_build": version_build,
    "debian_version": debian_version,
    "isbn": lambda r: isbn13(r) if r.random() < 0.6 else isbn10(r),
    "price": price,
    "time": time_of_day,
    "commit_hash": lambda r: "".join(r.choice("0123456789abcdef") for _ in range(r.choice([7, 12, 40]))),
    "port": lambda r: rng_choice(r, [f"server.local:{r.choice([80, 443, 3000, 5432, 8000, 8080, 8443, 9200, 27017])}",
                                      f"port {r.randint(1024, 65535)}"]),
    "rfc": lambda r: rng_choice(r, [f"RFC {r.randint(700, 9500)}", f"RFC {r.randint(700, 9500)} section {r.randint(1, 9)}.{r.randint(1, 9)}"]),
    "large_number": large_number,
}
# Each hard negative next to phone-like context: a phone word one to four words before it, or a signature.
NEGATIVE_TEMPLATES = ["The phone was released as {} in the spring.", "Tel. support: see {} for the details.",
                      "The call recorded {}.", "Mobile ({})",
                      "Call volume on {} was the highest of the year.", "The phone shipped with {} installed.",
                      "Mobile sales reached {} last quarter.", "Fax logs list {} as the last entry.",
                      "\n--\n{name}, {company}\nlast updated {}\n"]


def rng_choice(rng, options):
    return rng.choice(options)


def wiki_sentences() -> list[str]:
    sentences = []
    for line in WIKI.read_text(encoding="utf-8").splitlines():
        text = orjson.loads(line)["text"]
        for s in re.split(r"(?<=[.!?])\s+", text):
            s = s.strip()
            # Real sentences without numbers of their own, so every number in a document is a planted one.
            if 40 <= len(s) <= 300 and not re.search(r"\d|@", s):
                sentences.append(s)
    return sentences


def build_evalset(
    seed: int = 0, per_entity: int = 400, per_negative: int = 200, per_format: int = 100, phone_regions: tuple[str, ...] = ()
) -> list[EvalDoc]:
    """Documents of 3-6 real sentences with 1-4 planted items each, shuffled together: `per_entity` plants of
    every PII entity type but phone numbers, `per_format` phone numbers of every PHONE_FORMATS format, and
    `per_negative` of every hard-negative kind. `phone_regions` (keys of NATIONAL_PHONE_FORMATS) adds
    `per_entity` national phone numbers of each in running prose without a phone word, of kind
    "PHONE_NUMBER:<region>"."""
    rng = random.Random(seed)
    sentences = wiki_sentences()
    items = [(kind, True, None) for kind in PII if kind != "PHONE_NUMBER" for _ in range(per_entity)]
    items += [("PHONE_NUMBER", True, fmt) for fmt in PHONE_FORMATS for _ in range(per_format)]
    items += [(f"PHONE_NUMBER:{region}", True, None) for region in phone_regions for _ in range(per_entity)]
    items += [(kind, False, None) for kind in NEGATIVES for _ in range(per_negative)]
    rng.shuffle(items)
    docs, i = [], 0
    while i < len(items):
        take = items[i:i + rng.randint(1, 4)]
        i += len(take)
        parts = [rng.choice(sentences) for _ in range(rng.randint(3, 6))]
        text, plants = "", []
        slots = sorted(rng.sample(range(len(parts) + len(take)), len(take)))
        queue = list(take)
        for j in range(len(parts) + len(take)):
            if text:
                text += rng.choice([" ", " ", "\n"])
            if j in slots:
                kind, pii, fmt = queue.pop(0)
                shown, value, template, place = _plant(rng, kind, pii, fmt)
                start = len(text) + template.index("{}") + shown.index(value)
                text += template.replace("{}", shown)
                plants.append(Plant(kind, start, start + len(value), value, pii, fmt.name if fmt else "", place))
            else:
                text += parts.pop()
        docs.append(EvalDoc(f"pii-eval/{len(docs)}", text, plants))
    return docs


def _plant(rng, kind: str, pii: bool, fmt: PhoneFormat | None) -> tuple[str, str, str, str]:
    """(text shown, the value in it, template, place) of one planted item."""
    if fmt is not None:
        place, template = phone_template(rng, fmt)
        value = fmt.make(rng)
        return value, value, template, place
    if not pii:
        value = NEGATIVES[kind](rng)
        template = rng.choice(NEGATIVE_TEMPLATES)
        return value, value, template.replace("{name}", rng.choice(NAMES)).replace("{company}", rng.choice(COMPANIES)), ""
    entity, _, region = kind.partition(":")
    if region:
        return *(2 * [national_phone(rng, region)]), rng.choice(PROSE), "prose"
    made, templates = PII[kind]
    value = made(rng)
    shown, value = value if isinstance(value, tuple) else (value, value)
    return shown, value, rng.choice(templates), ""


def score(docs: list[EvalDoc], outputs: list[str]) -> dict:
    """{"recall": {entity: fraction caught}, "survival": {kind: fraction untouched}, "phone_formats": {format:
    fraction caught}, "phone_places": {place: fraction caught}, "misses": {kind, format or place: [values]}}."""
    hits: dict[str, list[int]] = {}
    misses: dict[str, list[str]] = {}
    for doc, out in zip(docs, outputs, strict=True):
        for p in doc.plants:
            ok = (p.value not in out) if p.pii else (p.value in out)
            for key in filter(None, (p.kind, p.fmt and f"format:{p.fmt}", p.place and f"place:{p.place}")):
                hits.setdefault(key, []).append(ok)
                if not ok:
                    misses.setdefault(key, []).append(p.value)
    frac = {k: sum(v) / len(v) for k, v in hits.items()}
    return {
        "recall": {k: frac[k] for k in sorted((k for k in frac if k.partition(":")[0] in PII), key=_pii_order)},
        "survival": {k: frac[k] for k in NEGATIVES if k in frac},
        "phone_formats": {f.name: frac[f"format:{f.name}"] for f in PHONE_FORMATS if f"format:{f.name}" in frac},
        "phone_places": {p: frac[f"place:{p}"] for p in PHONE_PLACES if f"place:{p}" in frac},
        "misses": misses,
    }


def _pii_order(kind: str) -> tuple[int, str]:
    """Entity types in PII's order, a national phone kind after PHONE_NUMBER."""
    entity, _, region = kind.partition(":")
    return list(PII).index(entity), region
