"""A seeded evaluation set for PII scrubbing: real sentences (the bundled Wikipedia articles) with planted
PII in realistic sentence templates and planted hard negatives (numbers that look like PII but are not),
every plant's offsets recorded.

    docs = build_evalset(seed=0)            # list[EvalDoc]; the same seed gives the same documents
    docs = build_evalset(seed=0, phone_regions=("GB", "IN"))   # + national phone numbers, kinds PHONE_NUMBER:GB...
    report = score(docs, [scrubbed texts])  # recall per entity, survival per hard-negative kind

Scoring reads only the output text, so it serves any scrubber (ours, presidio, datatrove): a planted PII
value is caught when it no longer appears in its document's output; a hard negative survives when it does.
"""

import ipaddress
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from curate.pii.recognizers import IBAN_LENGTHS, luhn_ok

WIKI = Path(__file__).parent.parent / "data" / "wiki" / "enwiki.jsonl"


@dataclass
class Plant:
    kind: str  # an entity type (EMAIL_ADDRESS...) or a hard-negative kind ("version", "date_iso"...)
    start: int
    end: int
    value: str
    pii: bool


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
US_AREA = ["201", "202", "206", "212", "213", "303", "305", "312", "404", "415", "503", "512", "602", "614", "617",
           "646", "702", "713", "718", "919"]


def email(rng):
    f, l = rng.choice(FIRST), rng.choice(LAST)
    local = rng.choice([f"{f}.{l}", f"{f[0]}{l}{rng.randint(1, 99)}", f"{f}_{l}", f"{f}+news", f"{l}.{f}"])
    return f"{local}@{rng.choice(DOMAINS)}"


def _digits(rng, n):
    return "".join(rng.choice("0123456789") for _ in range(n))


def phone(rng):
    """A number that phonenumbers' metadata calls valid (the generator retries until it is)."""
    import phonenumbers

    while True:
        value = _phone(rng)
        if phonenumbers.is_valid_number(phonenumbers.parse(value.replace("00", "+", 1) if value.startswith("00") else value, "US")):
            return value


def _phone(rng):
    sep = rng.choice([" ", "-", "."])
    kind = rng.randrange(9)
    if kind <= 2:
        area, ex, sub = rng.choice(US_AREA), str(rng.randint(201, 998)), _digits(rng, 4)
        while ex[1:] == "11" or ex == "555":
            ex = str(rng.randint(201, 998))
        return [f"({area}) {ex}-{sub}", f"{area}{sep}{ex}{sep}{sub}", f"+1 {area} {ex} {sub}", f"+1-{area}-{ex}-{sub}"][rng.randrange(4)]
    if kind == 3:  # UK: London fixed line, Manchester, mobile
        body = rng.choice([f"20{sep}7946{sep}{_digits(rng, 4)}", f"161{sep}496{sep}{_digits(rng, 4)}", f"7911{sep}{_digits(rng, 6)}"])
        return rng.choice(["+44 ", "0044 ", "+44-"]) + body
    if kind == 4:  # France
        return f"+33 {rng.randint(1, 7)} " + " ".join(_digits(rng, 2) for _ in range(4)) if sep == " " else \
            f"+33{sep}{rng.randint(1, 7)}{sep}" + sep.join(_digits(rng, 2) for _ in range(4))
    if kind == 5:  # Germany
        return rng.choice([f"+49 30 {rng.randint(100000, 99999999)}", f"+49 89 {rng.randint(1000000, 9999999)}",
                           f"+49 151 {rng.randint(10000000, 99999999)}", f"0049 40 {rng.randint(1000000, 9999999)}"])
    if kind == 6:  # India mobile
        return f"+91 {rng.randint(6, 9)}{_digits(rng, 4)} {_digits(rng, 5)}"
    if kind == 7:
        area, ex = rng.choice(US_AREA), str(rng.randint(200, 999))
        while ex[1:] == "11" or ex == "555":
            ex = str(rng.randint(200, 999))
        return f"{area}.{ex}.{_digits(rng, 4)}"
    return f"+44 {sep.join(['20', '7946', _digits(rng, 4)])}"


# National formats (no country code) as each country writes them; a number in them is valid only for its
# region, so a scrubber finds them only when told the region (PIIScrubber(phone_regions=[...])). Not the
# unbroken "9876543210": the phone recognizer takes digit groups of at most 8 digits, in every region.
NATIONAL_PHONE_FORMATS = {
    "GB": lambda r, sep: r.choice([f"020{sep}7946{sep}{_digits(r, 4)}", f"0161{sep}496{sep}{_digits(r, 4)}",
                                   f"07911{sep}{_digits(r, 6)}", f"(020) 7946 {_digits(r, 4)}"]),
    "DE": lambda r, sep: r.choice([f"030{sep}{r.randint(1000000, 99999999)}", f"089{sep}{r.randint(1000000, 9999999)}",
                                   f"0151{sep}{r.randint(10000000, 99999999)}", f"(040) {r.randint(1000000, 9999999)}"]),
    "FR": lambda r, sep: f"0{r.randint(1, 7)}{sep}" + sep.join(_digits(r, 2) for _ in range(4)),
    "IN": lambda r, sep: r.choice([f"0{r.randint(6, 9)}{_digits(r, 4)} {_digits(r, 5)}",
                                   f"{r.randint(6, 9)}{_digits(r, 4)} {_digits(r, 5)}",
                                   f"022{sep}{r.randint(2, 6)}{_digits(r, 3)}{sep}{_digits(r, 4)}"]),
}


def national_phone(rng, region: str) -> str:
    """A number in `region`'s national format that phonenumbers' matcher finds whole for that region."""
    import phonenumbers

    while True:
        value = NATIONAL_PHONE_FORMATS[region](rng, rng.choice([" ", "-", "."]))
        found = list(phonenumbers.PhoneNumberMatcher(value, region, leniency=phonenumbers.Leniency.VALID))
        if [(m.start, m.end) for m in found] == [(0, len(value))]:
            return value


def _luhn_complete(prefix: str, length: int, rng) -> str:
    body = prefix + _digits(rng, length - len(prefix) - 1)
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
        bban = rng.choice(["NWBK", "BARC", "MIDL", "LOYD"]) + _digits(rng, n - 4)
    elif country == "NL":
        bban = rng.choice(["ABNA", "INGB", "RABO"]) + _digits(rng, n - 4)
    elif country == "IT":
        bban = rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") + _digits(rng, n - 1)
    else:
        bban = _digits(rng, n)
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
    "PHONE_NUMBER": (phone, ["Call {} for bookings.", "Tel.: {}", "You can reach the front desk at {} until 6 pm.",
                             "Her mobile number, {}, was listed in the report.", "Fax {}"]),
    "CREDIT_CARD": (card, ["Card number: {}", "He paid with the card {} on the same day.", "Charged to {}."]),
    "IBAN_CODE": (iban, ["Please transfer the fee to IBAN {}.", "Account: {}", "Bank details {} (reference 17)."]),
    "IP_ADDRESS": (ip, ["The request came from {} at night.", "Client {} was banned.", "Connected to {}", "Host: {}"]),
    "US_SSN": (ssn, ["SSN: {}", "His social security number {} appeared on the form.", "Social Security No. {}."]),
    "URL_WITH_CREDENTIALS": (url_credentials, ["Clone from {} with the read-only key.", "DATABASE_URL={}", "Mirror: {}"]),
}

# --- hard negatives ------------------------------------------------------------------------------------


def isbn13(rng):
    body = "978" + _digits(rng, 9)
    check = (10 - sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(body)) % 10) % 10
    d = body + str(check)
    return f"{d[:3]}-{d[3]}-{d[4:6]}-{d[6:12]}-{d[12]}"


def isbn10(rng):
    body = _digits(rng, 9)
    check = (11 - sum(int(x) * (10 - i) for i, x in enumerate(body)) % 11) % 11
    d = body + ("X" if check == 10 else str(check))
    return f"ISBN {d[0]}-{d[1:4]}-{d[4:9]}-{d[9]}"


MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]

NEGATIVES = {
    "version": lambda r: rng_choice(r, [f"{r.randint(0, 9)}.{r.randint(0, 30)}.{r.randint(0, 20)}",
                                         f"v{r.randint(0, 9)}.{r.randint(0, 20)}.{r.randint(0, 20)}-rc{r.randint(1, 5)}"]),
    "date_iso": lambda r: f"{r.randint(1900, 2030)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
    "date_slash": lambda r: f"{r.randint(1, 28):02d}/{r.randint(1, 12):02d}/{r.randint(1900, 2030)}",
    "date_words": lambda r: f"{r.randint(1, 28)} {r.choice(MONTHS)} {r.randint(1900, 2030)}",
    "isbn": lambda r: isbn13(r) if r.random() < 0.5 else isbn10(r),
    "price": lambda r: f"${r.randint(1, 999)},{r.randint(0, 999):03d}.{r.randint(0, 99):02d}" if r.random() < 0.5 else f"${r.randint(1, 999)}.{r.randint(0, 99):02d}",
    "time": lambda r: f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}",
    "commit_hash": lambda r: "".join(r.choice("0123456789abcdef") for _ in range(r.choice([7, 40]))),
    "port": lambda r: f"server.local:{r.choice([80, 443, 3000, 5432, 8000, 8080, 8443, 9200, 27017])}",
    "rfc": lambda r: f"RFC {r.randint(700, 9500)}",
    "debian_version": lambda r: f"1:{r.randint(1, 3)}.{r.randint(0, 40)}.{r.randint(0, 9)}-{r.randint(1, 9)}+deb{r.randint(10, 12)}u{r.randint(1, 5)}",
    "large_number": lambda r: ",".join([str(r.randint(1, 999))] + [f"{r.randint(0, 999):03d}" for _ in range(r.randint(2, 4))]),
}
NEGATIVE_TEMPLATES = ["It was released as {} in the spring.", "See {} for the details.", "The value recorded was {}.", "({})"]


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
    seed: int = 0, per_entity: int = 400, per_negative: int = 200, phone_regions: tuple[str, ...] = ()
) -> list[EvalDoc]:
    """Documents of 3-6 real sentences with 1-4 planted items each: `per_entity` plants of every PII entity
    type and `per_negative` of every hard-negative kind, shuffled together. `phone_regions` (keys of
    NATIONAL_PHONE_FORMATS) adds `per_entity` national phone numbers of each, of kind "PHONE_NUMBER:<region>"."""
    rng = random.Random(seed)
    sentences = wiki_sentences()
    items = [(kind, True) for kind in PII for _ in range(per_entity)]
    items += [(f"PHONE_NUMBER:{region}", True) for region in phone_regions for _ in range(per_entity)]
    items += [(kind, False) for kind in NEGATIVES for _ in range(per_negative)]
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
                kind, pii = queue.pop(0)
                if pii:
                    made, templates = _maker(kind)
                    value = made(rng)
                    shown, value = value if isinstance(value, tuple) else (value, value)
                else:
                    shown = value = NEGATIVES[kind](rng)
                    templates = NEGATIVE_TEMPLATES
                template = rng.choice(templates)
                before = template.index("{}")
                start = len(text) + before + shown.index(value)
                text += template.format(shown)
                plants.append(Plant(kind, start, start + len(value), value, pii))
            else:
                text += parts.pop()
        docs.append(EvalDoc(f"pii-eval/{len(docs)}", text, plants))
    return docs


def _maker(kind: str):
    """(generator, templates) of a PII kind: an entity type, or "PHONE_NUMBER:<region>"."""
    entity, _, region = kind.partition(":")
    if region:
        return (lambda rng: national_phone(rng, region)), PII[entity][1]
    return PII[kind]


def score(docs: list[EvalDoc], outputs: list[str]) -> dict:
    """{"recall": {entity: fraction caught}, "survival": {kind: fraction untouched}, "misses": {kind: [values]}}."""
    hits: dict[str, list[int]] = {}
    misses: dict[str, list[str]] = {}
    for doc, out in zip(docs, outputs, strict=True):
        for p in doc.plants:
            ok = (p.value not in out) if p.pii else (p.value in out)
            hits.setdefault(p.kind, []).append(ok)
            if not ok:
                misses.setdefault(p.kind, []).append(p.value)
    frac = {k: sum(v) / len(v) for k, v in hits.items()}
    return {
        "recall": {k: frac[k] for k in sorted((k for k in frac if k.partition(":")[0] in PII), key=_pii_order)},
        "survival": {k: frac[k] for k in NEGATIVES if k in frac},
        "misses": misses,
    }


def _pii_order(kind: str) -> tuple[int, str]:
    """Entity types in PII's order, a national phone kind after PHONE_NUMBER."""
    entity, _, region = kind.partition(":")
    return list(PII).index(entity), region
