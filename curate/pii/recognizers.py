"""Fast, validated presidio recognizers for the pattern entities curate scrubs.

Each one is a presidio `LocalRecognizer` (base.FastRecognizer): a compiled regex finds candidates, a check
that a regex cannot do keeps only real ones (Luhn for cards, ISO 13616 mod-97 for IBANs, the `ipaddress`
module for IPs, the SSA's area/group/serial rules for SSNs). Phone numbers have a module of their own
(phones.py); RECOGNIZERS below names them all.
"""

import ipaddress
import re
from typing import Iterator

from curate.pii.base import CREDENTIALS_SCORE, VALIDATED, FastRecognizer
from curate.pii.phones import MIN_PHONE_DIGITS, PhoneRecognizer, check_phone_regions  # noqa: F401 (the stage's import)

def runs_holding(text: str, trigger: str, run: re.Pattern) -> Iterator[tuple[int, int]]:
    """(start, end) of each maximal run of characters that contains `trigger`, left to right; `run` matches
    a possibly empty run of those characters (a character class and "*"; trigger characters included). A
    recognizer whose every match contains a rare character ("@", ":") runs its pattern over these runs only:
    Python's regex engine would otherwise try the pattern at every position of the text."""
    i = text.find(trigger)
    while i != -1:
        start = i
        # Backwards 64 characters at a time: a character class matches the reversed text just as well.
        while start > 0:
            chunk = text[max(0, start - 64):start][::-1]
            n = run.match(chunk).end()
            start -= n
            if n < len(chunk):
                break
        end = run.match(text, i).end()
        yield start, end
        i = text.find(trigger, end)


# --- e-mail -------------------------------------------------------------------------------------------------

_EMAIL = re.compile(
    r"(?<![\w.%+-])[\w.%+'-]*\w@(?:\w(?:[\w-]*\w)?\.)+(?P<tld>[^\W\d_]{2,24}|xn--[a-z0-9-]{2,59})(?![\w-]|\.\w)"
)
_EMAIL_RUN = re.compile(r"[\w.%+'@-]*")  # every character the pattern matches


class EmailRecognizer(FastRecognizer):
    """A local part, '@', a domain of dot-separated labels ending in an alphabetic top-level label.

    presidio's EmailRecognizer validates with `tldextract.extract`, whose default extractor fetches the
    public-suffix list over the network on first use. A TLD made of 2-24 letters (or punycode) is what that
    check amounts to for real addresses, with no list and no network.
    """

    ENTITY = "EMAIL_ADDRESS"

    def candidates(self, text):
        for run_start, run_end in runs_holding(text, "@", _EMAIL_RUN):
            # Every match lies inside a run (the pattern's characters are all run characters), and the
            # lookahead needs one character past its end.
            for m in _EMAIL.finditer(text, run_start, min(len(text), run_end + 1)):
                start = m.start()
                # A local part cannot start or end with a dot.
                while text[start] in ".'-":
                    start += 1
                yield start, m.end(), VALIDATED


# --- credit cards ----------------------------------------------------------------------------------------

_CARD = re.compile(r"\d(?<![\w.,-]\d)\d{3}(?:[ -]?\d{2,7}){2,4}(?![\w]|[.,-]\d)")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = ord(c) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_brand(digits: str) -> str | None:
    """The issuer of a card number by its prefix and length (None: not a known issuer's range)."""
    n = len(digits)
    if digits[0] == "4" and n in (13, 16, 19):
        return "visa"
    two, four = int(digits[:2]), int(digits[:4])
    if n == 16 and (51 <= two <= 55 or 2221 <= four <= 2720):
        return "mastercard"
    if n == 15 and two in (34, 37):
        return "amex"
    if n in (16, 19) and (digits.startswith("6011") or two == 65 or 644 <= int(digits[:3]) <= 649):
        return "discover"
    if n in (16, 17, 18, 19) and 3528 <= four <= 3589:
        return "jcb"
    if n == 14 and (two in (36, 38) or 300 <= int(digits[:3]) <= 305):
        return "diners"
    return None


class CreditCardRecognizer(FastRecognizer):
    """13-19 digits, with or without space/dash groups, of a known issuer's range, passing Luhn."""

    ENTITY = "CREDIT_CARD"

    def candidates(self, text):
        for m in _CARD.finditer(text):
            digits = m.group().replace(" ", "").replace("-", "")
            if 13 <= len(digits) <= 19 and card_brand(digits) and luhn_ok(digits):
                yield m.start(), m.end(), VALIDATED


# --- IBAN ------------------------------------------------------------------------------------------------

# ISO 13616 lengths per country (the SWIFT IBAN registry).
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
    "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}
_IBAN = re.compile(r"([A-Z][A-Z])(?<!\w..)(\d{2})((?:[ ]?[A-Z0-9]){8,30})")  # (?<!\w..): \b before the country


def iban_ok(iban: str) -> bool:
    """ISO 13616: move the first four characters to the end, letters to numbers (A=10), mod 97 == 1."""
    if IBAN_LENGTHS.get(iban[:2]) != len(iban):
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


class IbanRecognizer(FastRecognizer):
    """A country code, two check digits and the country's BBAN length, compact or in groups of four."""

    ENTITY = "IBAN_CODE"

    def candidates(self, text):
        for m in _IBAN.finditer(text):
            want = IBAN_LENGTHS.get(m.group(1))
            if want is None:
                continue
            # Take exactly the country's length of characters; the match may run on into the next word.
            count, end = 0, m.start()
            while end < m.end() and count < want:
                if text[end] != " ":
                    count += 1
                end += 1
            if count != want or (end < len(text) and text[end].isalnum()):
                continue
            if iban_ok(text[m.start():end].replace(" ", "")):
                yield m.start(), end, VALIDATED


# --- IP addresses ----------------------------------------------------------------------------------------

_IPV4 = re.compile(r"\d(?<![\w.]\d)\d{0,2}\.(?:\d{1,3}\.){2}\d{1,3}(?![\w]|\.\d)")
_IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{1,4})?(?![\w:]|\.\w)"
)


_IPV6_RUN = re.compile(r"[0-9a-fA-F:.]*")


def _ipv6_matches(text: str):
    """`_IPV6.finditer(text)` over the runs of hex digits, colons and dots that hold two colons or more."""
    for start, end in runs_holding(text, ":", _IPV6_RUN):
        if text.count(":", start, end) >= 2:
            # endpos leaves two characters after the run visible to the pattern's lookahead.
            yield from _IPV6.finditer(text, start, min(len(text), end + 2))


class IpRecognizer(FastRecognizer):
    """IPv4 dotted quads and IPv6 addresses (full, compressed, with an embedded IPv4) that `ipaddress`
    parses. Version strings have fewer parts; times ("12:30:45") are not valid IPv6."""

    ENTITY = "IP_ADDRESS"

    def candidates(self, text):
        if "." in text:
            for m in _IPV4.finditer(text):
                try:
                    ipaddress.IPv4Address(m.group())
                except ValueError:
                    continue
                yield m.start(), m.end(), VALIDATED
        if ":" in text:
            for m in _ipv6_matches(text):
                value = m.group()
                try:
                    ip = ipaddress.IPv6Address(value)
                except ValueError:
                    continue
                # "::", "::1" and "a::b" in code (C++ scopes, Haskell) are not addresses worth scrubbing.
                if ip.is_unspecified or ip.is_loopback or sum(c.isalnum() for c in value) < 4:
                    continue
                yield m.start(), m.end(), VALIDATED


# --- US social security numbers ----------------------------------------------------------------------

_SSN = re.compile(r"(\d(?<![\w.,/:-]\d)\d\d)([- ])(\d{2})\2(\d{4})(?![\w]|[.,/:-]\d)")


def ssn_ok(area: str, group: str, serial: str) -> bool:
    """SSA rules: no area 000, 666 or 900-999, no group 00, no serial 0000."""
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


class SsnRecognizer(FastRecognizer):
    """AAA-GG-SSSS or AAA GG SSSS with the SSA's valid area, group and serial numbers."""

    ENTITY = "US_SSN"

    def candidates(self, text):
        for m in _SSN.finditer(text):
            if ssn_ok(m.group(1), m.group(3), m.group(4)):
                yield m.start(), m.end(), VALIDATED


# --- URLs with credentials ---------------------------------------------------------------------------

_URL_CREDENTIALS = re.compile(
    r"\b[A-Za-z][A-Za-z0-9+.-]{1,15}://(?P<userinfo>[^\s/?#@:]+:[^\s/?#@]+)@[\w.-]+"
)


_NOT_SPACE_RUN = re.compile(r"\S*")


class UrlCredentialsRecognizer(FastRecognizer):
    """The `user:password` part of `scheme://user:password@host`: the host and path stay."""

    ENTITY = "URL_WITH_CREDENTIALS"

    def candidates(self, text):
        if "@" not in text:
            return
        # A match holds no white space: look only at the runs of other characters that hold "://".
        for start, end in runs_holding(text, "://", _NOT_SPACE_RUN):
            for m in _URL_CREDENTIALS.finditer(text, start, end):
                # Scored above an e-mail, which "password@host" also looks like: the credentials win the overlap.
                yield m.start("userinfo"), m.end("userinfo"), CREDENTIALS_SCORE


RECOGNIZERS = {
    r.ENTITY: r
    for r in (
        EmailRecognizer, PhoneRecognizer, CreditCardRecognizer, IbanRecognizer, IpRecognizer, SsnRecognizer,
        UrlCredentialsRecognizer,
    )
}
DEFAULT_ENTITIES = list(RECOGNIZERS)

# The least a text must hold for a recognizer to possibly match: skipping the others is the cheap pre-pass.
_DIGIT_RUN = re.compile(r"\d")


def plausible_entities(text: str, entities: list[str]) -> list[str]:
    digits = len(_DIGIT_RUN.findall(text)) if len(text) < 4096 else sum(map(text.count, "0123456789"))
    need = {
        "EMAIL_ADDRESS": "@" in text,
        "URL_WITH_CREDENTIALS": "://" in text and "@" in text,
        "PHONE_NUMBER": digits >= MIN_PHONE_DIGITS,
        "CREDIT_CARD": digits >= 13,
        "IBAN_CODE": digits >= 4,
        "IP_ADDRESS": digits >= 4 or "::" in text,
        "US_SSN": digits >= 9,
    }
    return [e for e in entities if need.get(e, True)]
