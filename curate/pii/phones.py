"""Phone numbers as people write them, in every country, and not the numbers that only look like them.

A regex finds windows of digit groups ("+44 (0)20 7946 0958", "030/1234567", "0412 345 678"). A window is a
phone number when, in this order:

1. it is written with a country code ("+44", "(+44)", or "0044"/"011 44" with a separator in the window) and
   phonenumbers calls its length possible for that country: not that the number is assigned (made-up and
   fictional numbers are numbers a reader recognises); compact E.164 ("+442079460958") included;
2. it has the North American shape ("(212) 555-0143", "555-019-2841", "1-800-555-0199"), any area and
   exchange code, and a NANP region (US by default) is in `phone_regions`;
3. it is none of the numbers that only look like phone numbers: a date (dotted, slashed, dashed, spaced), a
   version ("7.1.2048.4411"), an IPv4 address, an ISBN, a price, a time range, a number with thousands
   separators ("1 234 567", "12.345.678"; a 9-digit number in threes is also how Spain writes phone numbers,
   see _classify);
4. phonenumbers' metadata calls it valid in the national format of one of `phone_regions`, written in groups
   (a bare run of digits is an id, a count or a seed more often than a phone number: it goes to step 5);
5. it is plausible as a national number of some country in length and grouping (a trunk "0" or an area code
   in parentheses, 2-3 digit leading groups, 8-13 digits, ...: _plausible_national). It then scores
   PHONE_SCORE when its context says phone and PHONE_UNCONFIRMED_SCORE (under the stage's default min_score)
   when not, as presidio scores its phone matches 0.4 and adds 0.35 for a context word. Context
   (says_phone): a word among _CONTEXT_WORDS at most four words before it (presidio looks five words back), a
   label such as "T:" or "M.", a vCard TEL field, a word such as "(mobile)" right after it, or a short line
   that holds an e-mail address, that follows a sign-off ("--", "Best regards,") within six lines, or that
   holds the number alone.

When the whole window is none (or only unconfirmed), its longest runs of space-separated chunks are tried, left
to right ("+1 415 555 0143 24 hours", "834.345.1254 155 Elm Street").

presidio's own PhoneRecognizer runs phonenumbers' matcher over the whole text once per region (8 regions):
~90% of presidio's time. Here most windows are decided by the regexes; phonenumbers sees only the windows
that reach steps 1 and 4.
"""

import re

import phonenumbers
from phonenumbers import NumberParseException, ValidationResult

from curate.pii.base import PHONE_SCORE, PHONE_UNCONFIRMED_SCORE, FastRecognizer

# Digit groups joined by one separator (space, no-break space, dash, dot, slash; a dash or slash may have
# spaces around it), an optional "+CC" and parenthesised groups ("(030)", "+44 (0)20"). Not commas
# (thousands), not colons (times; but "TEL;TYPE=cell:0412..." and "tel:+1..." start after a letter's colon).
# Each branch starts with the character it needs and checks the one before it afterwards ("\d(?<!X\d)" is
# "(?<!X)\d"): a pattern that starts with a character class lets Python's regex engine skip to the next
# candidate character instead of trying every position.
_PHONE = re.compile(
    r"(?:\+(?<![\w+.,/-]\+)(?<!\d:\+)(?:\(\d{1,5}\)[ .-]?)?\d{1,15}"
    r"|\((?<![\w+.,/-]\()(?<!\d:\()\+?\d{1,5}\)[ \u00a0.-]?\d{1,8}"
    r"|\d(?<![\w+.,/-]\d)(?<!\d:\d)\d{0,14})"
    r"(?:(?:[ \u00a0]?[-/][ \u00a0]?|[ .\u00a0]|[ \u00a0]?\(\d{1,5}\)[ \u00a0]?)\d{1,8}){0,8}"
    r"(?![\w]|[.,/:-]\d)"
)
MIN_PHONE_DIGITS, MAX_PHONE_DIGITS = 7, 17  # E.164 allows 15 digits after the country code's 1-3
_DIGITS = re.compile(r"\d+")
# Where a window may be cut into shorter candidates: a separator holding a space.
_CUT = re.compile(r"[ \u00a0]*[-/][ \u00a0]*(?=\d)|[ \u00a0]+(?=[\d(])")

# --- 1. international -----------------------------------------------------------------------------------

_DECIMAL = re.compile(r"\+\d+\.\d+")
_EXIT_CODE = re.compile(r"(?:00(?=[1-9])|011(?=[ \u00a0.-]))")


def _international(s: str) -> bool:
    """"+CC ..." or "(+CC) ..." (or "00CC ..." / "011 CC ..." with a separator in it) of a length possible for
    that country."""
    if _DECIMAL.fullmatch(s):  # "+3.140000"
        return False
    if s[0] != "+" and not s.startswith("(+"):
        m = _EXIT_CODE.match(s)
        if not m or not any(c in s for c in " \u00a0.-/"):
            return False
        s = "+" + s[m.end():].lstrip(" \u00a0.-")
    try:
        number = phonenumbers.parse(s, None)
    except NumberParseException:
        return False
    return phonenumbers.is_possible_number_with_reason(number) == ValidationResult.IS_POSSIBLE


# --- 2. the North American shape ------------------------------------------------------------------------

_NANP = re.compile(r"(?:1[ .-]?)?(?:\([2-9]\d\d\)[ \u00a0]?|[2-9]\d\d[ .\u00a0-])\d{3}[ .\u00a0-]\d{4}")
NANP_REGIONS = frozenset(r for r in phonenumbers.SUPPORTED_REGIONS if phonenumbers.country_code_for_region(r) == 1)


# --- 3. numbers that only look like phone numbers ---------------------------------------------------------

_DAY, _MONTH = r"(?:0?[1-9]|[12]\d|3[01])", r"(?:0?[1-9]|1[0-2])"
_YEAR = r"(?:1[5-9]\d\d|20\d\d)"
# Checked on every chunk of a window (a run without spaces).
_CHUNK_NEGATIVE = re.compile(
    rf"{_DAY}([./-]){_MONTH}\1(?:{_YEAR}|\d\d)"  # 17.03.2011, 17/03/11, 17-03-2011
    rf"|{_MONTH}([./-]){_DAY}\2(?:{_YEAR}|\d\d)"  # 03/17/2011
    rf"|{_YEAR}([./-]){_MONTH}\3{_DAY}"  # 2011-03-17, 2011.03.17
    r"|(?:0|[1-9]\d?)(?:\.\d+){2,}"  # versions: 2.14.3, 0.10.2048.1, 7.1.2048.4411 (not "06.39.98.12.34")
    r"|\d{1,3}(?:\.\d{1,3}){3}"  # IPv4
)
# Checked on the whole window: dates in spaced numbers, ISBN-10 and ISBN-13 in groups (no phone format ends in
# a one-digit group), time ranges ("09.00-17.30").
_WINDOW_NEGATIVE = re.compile(
    rf"{_DAY} {_MONTH} {_YEAR}"  # 17 03 2011
    r"|(?:97[89][ -])?\d{1,5}[ -]\d{1,7}[ -]\d{1,7}[ -]\d"
    r"|(?:[01]?\d|2[0-3])[.h][0-5]\d[ \u00a0]?[-/][ \u00a0]?(?:[01]?\d|2[0-3])[.h][0-5]\d"
)
_ISBN_BEFORE = re.compile(r"ISBN(?:-1[03])?:?\s*$", re.IGNORECASE)
_ISBN_X_AFTER = re.compile(r"-[Xx]\b")
_CURRENCY_BEFORE = re.compile(r"(?:[$€£¥₹]|\b(?:USD|EUR|GBP|CHF|JPY|INR|CNY|AUD|CAD|Rs\.?|R\$))[ \u00a0]?$")
_CURRENCY_AFTER = re.compile(r"[ \u00a0]?(?:[$€£¥₹%]|(?:USD|EUR|GBP|CHF|euros?|dollars?|pounds)\b)", re.IGNORECASE)
# Thousands separators: "1 234 567", "12.345.678" (one exception: see PhoneRecognizer._classify).
_THOUSANDS = re.compile(r"[1-9]\d{0,2}([ .\u00a0])\d{3}(?:\1\d{3})*")


def _isbn13_ok(digits: str) -> bool:
    return sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10 == 0


def _negative(text: str, start: int, end: int, s: str, digits: str) -> bool:
    if _WINDOW_NEGATIVE.fullmatch(s) or any(_CHUNK_NEGATIVE.fullmatch(c) for c in s.split()):
        return True
    if len(digits) == 13 and digits.startswith(("978", "979")) and _isbn13_ok(digits):
        return True
    if _ISBN_BEFORE.search(text, max(0, start - 12), start) or _ISBN_X_AFTER.match(text, end):
        return True
    return bool(_CURRENCY_BEFORE.search(text, max(0, start - 5), start) or _CURRENCY_AFTER.match(text, end))


# --- 5. plausible as a national number somewhere, and its context (step 4 is _national, at the end) -----

_YEARISH = re.compile(r"1[5-9]\d\d|20\d\d")


def _plausible_national(s: str, groups: list[str]) -> bool:
    """Length and grouping of a national number in some country's plan: the first group is a trunk prefix
    ("0..."), an area code in parentheses, a 2-3 digit area or mobile prefix, a trunk "1"/"8" before more
    groups, or one of the 4-4 (Hong Kong, Singapore) and 5-5 (Indian mobiles) splits."""
    n, total = len(groups), sum(map(len, groups))
    first = groups[0]
    if n == 1:  # compact: "02079460958", "4155550123", "13800138000"
        return (9 <= total <= 12 and first[0] == "0") or (total == 10 and first[0] != "0") or (total == 11 and first[0] == "1")
    if not 7 <= total <= 13 or max(map(len, groups)) > 8 or min(map(len, groups[1:])) < 2:
        return False
    if total == 7:  # a local number: "555-0123"
        return n == 2 and len(first) == 3
    if s[0] == "(" or first[0] == "0":
        return True
    if len(first) == 1:  # "1-800 ...", "8 (495) ...", "0 800 ..."
        return first in "018" and n >= 3
    if len(first) <= 3:
        return total >= 9 or n >= 3
    if len(first) == 4:  # "6123 4567", not "1990-2010"
        return total == 8 and n == 2 and s[4] == " " and not (_YEARISH.fullmatch(first) and _YEARISH.fullmatch(groups[1]))
    return len(first) == 5 and n == 2 and total == 10 and first[0] in "6789"


# presidio's PhoneRecognizer context words, the (Tel, Fax, "ph."), and their German, French, Spanish
# and Italian forms; Chinese, Japanese and Korean words have no word boundary to look for.
_CONTEXT_WORDS = re.compile(
    r"\b(?:tel|t[ée]l[ée]phone|tele(?:phone|fon|fono)|phone|ph|mobile?|mob|cell(?:phone|ular)?|fax|call(?:s|ed|ing)?"
    r"|dial|hotline|helpline|whatsapp|sms|(?:telefon|ruf|handy|mobil|fax)nummer|handy|ruf|anrufen|portable|m[oó]vil"
    r"|celular|cellulare|chiamare|llame|llamar)\b|電話|电话|手机|携帯|전화",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+")
# A one-letter label: "T: ", "M. " anywhere, "T " at the start of a line or after a "|".
_LABEL = re.compile(r"(?:(?<![\w.])[TMFPODHWC][ \t]*[.:]|(?:^|[|•·])[ \t]*[TMFPODHWC])[ \t]*\Z", re.MULTILINE)
# What may stand between a context word and the number it labels ("call us on", "Phone the office at",
# "mobile number:", "TEL;TYPE=work,voice:").
_CONNECTORS = re.compile(
    r"(?:[\s.:;,=()#/-]|\b(?:us|me|him|her|them|on|at|to|no|nr|number|is|the|our|my|his|their|office|desk|line|direct|main"
    r"|type|work|home|voice|cell|pref)\b)*",
    re.IGNORECASE,
)
_CONTEXT_AFTER = re.compile(r"[ \t]*[(\[]?(?:tel|phone|mobile|mob|cell|fax|office|home|work|landline|direct)\b", re.IGNORECASE)
_SIGN_OFF = re.compile(
    r"^[ \t]*(?:--|—|(?:(?:best|kind|warm(?:est)?|many)[ \t]+)?(?:regards|wishes|thanks)|best|sincerely(?:[ \t]+yours)?"
    r"|yours[ \t]+(?:truly|sincerely|faithfully)|cheers|thank[ \t]+you|mit[ \t]+freundlichen[ \t]+gr(?:ü|ue)(?:ß|ss)en"
    r"|(?:viele|beste|liebe)[ \t]+gr(?:ü|ue)(?:ß|ss)e|cordialement|bien[ \t]+à[ \t]+vous|(?:un[ \t]+)?saludos?(?:[ \t]+cordiales)?"
    r"|atentamente|(?:cordiali|distinti)[ \t]+saluti|met[ \t]+vriendelijke[ \t]+groet(?:en)?)[ \t]*[,.!]?[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_BINARY = re.compile(r"[01 ]+")
_EMAIL_ON_LINE = re.compile(r"[\w.+-]@[\w-]+\.\w")
# How far context is looked for, in characters before the number; never across a NUL, with which the stage
# joins documents (scrubber.SEPARATOR): each document's context is its own.
_WORDS_BACK, _LINES_BACK = 64, 400
_MAX_CONTACT_LINE = 120


def _line_start(text: str, start: int, lo: int) -> int:
    """Where the line holding `start` starts, or -1 when that is before `lo`."""
    line_start = text.rfind("\n", lo, start) + 1
    return line_start if line_start or lo == 0 or text[lo - 1] == "\n" else -1


def _short_line_end(text: str, end: int) -> int:
    """Where the line holding `end` ends, or -1 when that is more than _MAX_CONTACT_LINE further."""
    line_end = text.find("\n", end, end + _MAX_CONTACT_LINE)
    return line_end if line_end >= 0 else len(text) if len(text) - end < _MAX_CONTACT_LINE else -1


def _digit_count(text: str, start: int, end: int) -> int:
    return sum(c.isdigit() for c in text[start:end])


def _floor(text: str, start: int, back: int) -> int:
    lo = max(0, start - back)
    return max(lo, text.rfind("\x00", lo, start) + 1)


def says_phone(text: str, start: int, end: int, adjacent: bool = False) -> bool:
    """Whether the context of text[start:end] says it is a phone number (see the module docstring).
    `adjacent`: a context word counts only when nothing but _CONNECTORS stands between it and the number."""
    lo = _floor(text, start, _WORDS_BACK)
    last = None
    for last in _CONTEXT_WORDS.finditer(text, lo, start):
        pass
    if last is not None:
        if _CONNECTORS.fullmatch(text, last.end(), start) if adjacent else len(_WORD.findall(text, last.end(), start)) <= 4:
            return True
    if _CONTEXT_AFTER.match(text, end):
        return True
    if _LABEL.search(text, max(lo, start - 16), start):
        return True
    far = _floor(text, start, _LINES_BACK)
    line_start = _line_start(text, start, far)
    if line_start < 0:
        return False
    # A contact line: short, with an e-mail address on it or in a signature block.
    line_end = _short_line_end(text, end)
    if line_end < 0 or line_end - line_start > _MAX_CONTACT_LINE:
        return False
    if _EMAIL_ON_LINE.search(text, line_start, line_end):
        return True
    # A line of its own: a contact line whose signature block lost its other lines (a filter upstream drops
    # lines of fewer than three words). In groups: a bare run of digits alone on a line is an integer (program
    # output), and digit groups of 0s and 1s are binary numbers from a table.
    if not text[line_start:start].strip() and not text[end:line_end].strip() and not text[start:end].isdigit() \
            and _digit_count(text, start, end) >= 9 and not _BINARY.fullmatch(text, start, end):
        return True
    sign_off = None
    for sign_off in _SIGN_OFF.finditer(text, far, line_start):
        pass
    return sign_off is not None and text.count("\n", sign_off.end(), line_start) <= 6


# --- the recognizer ----------------------------------------------------------------------------------


def check_phone_regions(regions) -> list[str]:
    """The regions as phonenumbers' ISO 3166 codes ("GB", not "UK"), or a ValueError that names the bad ones."""
    if isinstance(regions, str) or not regions:
        raise ValueError(f"pii: phone_regions must be a non-empty list of region codes such as [US, GB, DE], got {regions!r}")
    regions = [str(r).upper() for r in regions]
    if bad := [r for r in regions if r not in phonenumbers.SUPPORTED_REGIONS]:
        hint = " (the United Kingdom is GB)" if "UK" in bad else ""
        raise ValueError(f"pii: unknown phone region(s) {bad}{hint}; use ISO 3166 codes such as US, GB, DE, FR, IN")
    return regions


class PhoneRecognizer(FastRecognizer):
    """Phone numbers as people write them (see the module docstring): with a country code for every country;
    in the national formats of `regions` (US by default: "(212) 555-0143", "555-019-2841") without context;
    in any country's national format ("020 7946 0958", "(03) 9123 4567") where the context says phone."""

    ENTITY = "PHONE_NUMBER"

    def __init__(self, regions: list[str] | tuple[str, ...] = ("US",)):
        self.regions = check_phone_regions(regions)
        self.nanp = any(r in NANP_REGIONS for r in self.regions)
        super().__init__()

    def candidates(self, text):
        for m in _PHONE.finditer(text):
            start, end = m.span()
            if end - start < MIN_PHONE_DIGITS:  # most windows: no need to count
                continue
            found = self._classify(text, start, end)
            if found is None:  # a date, a version, ...: not cut into shorter candidates either
                continue
            if (not found or found[0][2] < PHONE_SCORE) and (cuts := [c.span() for c in _CUT.finditer(text, start, end)]):
                # Nothing, or a number that needs context it lacks: maybe a shorter run of the window is a
                # phone number ("834.345.1254 155 Elm Street").
                shorter = list(self._in_chunks(text, start, end, cuts))
                if any(score >= PHONE_SCORE for _, _, score in shorter) or not found:
                    found = shorter
            yield from found

    def _in_chunks(self, text: str, start: int, end: int, cuts: list[tuple[int, int]]):
        """The window cut at its spaced separators: the longest run of chunks that is a phone number, left to
        right ("+1 415 555 0143 24" -> "+1 415 555 0143"; "1970 020 7946 0958" -> "020 7946 0958")."""
        bounds = [(start, cuts[0][0])] + [(cuts[k][1], cuts[k + 1][0]) for k in range(len(cuts) - 1)] + [(cuts[-1][1], end)]
        i, n = 0, len(bounds)
        while i < n:
            for j in range(n, i, -1):
                if (i, j) == (0, n):
                    continue  # the whole window: already refused
                # Not the regions' matcher: it looked inside the whole window already (it finds numbers in a
                # longer text), or the window held more digits than a number, a list of numbers, where asking
                # it per run took 20x as long (a 210 KB table of 5-digit numbers, five regions: 9.5 s, 0.45 s).
                found = self._classify(text, bounds[i][0], bounds[j - 1][1], ask_regions=False)
                if found:
                    yield from found
                    i = j
                    break
            else:
                i += 1

    def _classify(self, text: str, start: int, end: int, ask_regions: bool = True) -> list | None:
        """[(start, end, score)] of the phone numbers in text[start:end] (the whole, or what phonenumbers'
        matcher finds in it), [] for none, None for a number that only looks like one."""
        s = text[start:end]
        digits = "".join(_DIGITS.findall(s))
        if not MIN_PHONE_DIGITS <= len(digits) <= MAX_PHONE_DIGITS:
            return []
        if s[0] == "+" or s.startswith("(+") or s[0] == "0" and _EXIT_CODE.match(s):
            return [(start, end, PHONE_SCORE)] if _international(s) else []
        if self.nanp and _NANP.fullmatch(s):
            return [(start, end, PHONE_SCORE)]
        if _negative(text, start, end, s, digits):
            return None
        # Thousands separators. A 9-digit number in threes ("912 345 678") is also how Spain and Portugal
        # write phone numbers: it is one with ES or PT in phone_regions or when a context word labels it
        # ("Tel. 912 345 678", not "Call volume: 912 345 678").
        thousands = _THOUSANDS.fullmatch(s)
        in_threes = thousands and thousands.group(1) != "." and len(digits) == 9 and s[3] == thousands.group(1)
        if thousands and not in_threes:
            return None
        # A national number in groups, valid in one of the regions. Not a bare run of digits: that is an
        # id, a count or a seed ("2147483647") more often than a phone number, unless its context says phone.
        if s != digits and ask_regions:
            for region in self.regions:
                if spans := _national(s, region):
                    return [(start + a, start + b, PHONE_SCORE) for a, b in spans]
        if in_threes and not says_phone(text, start, end, adjacent=True):
            return None
        if _plausible_national(s, _DIGITS.findall(s)):
            return [(start, end, PHONE_SCORE if says_phone(text, start, end) else PHONE_UNCONFIRMED_SCORE)]
        return []


def _national(s: str, region: str) -> list[tuple[int, int]]:
    """(start, end) in `s` of the numbers phonenumbers' matcher calls valid in `region`'s national format; it
    also wants the national prefix where the region writes one ("030 1234567" in Germany). North American
    numbers in groups are the shape of step 3, whatever the metadata says: not asked here."""
    if region in NANP_REGIONS:
        return []
    return [(f.start, f.end) for f in phonenumbers.PhoneNumberMatcher(s, region, leniency=phonenumbers.Leniency.VALID)]
