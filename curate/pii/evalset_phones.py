"""Phone numbers for the PII evaluation set (evalset.py): formats as people write them in 18 countries, and
the places they are written in (a label, running prose, a vCard, a signature block).

Every number is made up. Where a country reserves numbers for fiction they come from that range: the US
555-0100..0199, the UK's Ofcom drama numbers (020 7946 0xxx, 0161 496 0xxx, 07700 900xxx), Australia's
ACMA ranges (02 5550 xxxx, 0491 570 xxx), France's ARCEP fiction numbers (01 99 00 xx xx, 06 39 98 xx xx).
Elsewhere the digits are random in the country's real format, and US numbers of the format "any area and
exchange" include area and exchange codes that are not assigned (555-019-2841): a reader still sees a phone
number.

Each format says whether a reader needs context to see a phone number in it: a national number of a country
other than the US (the default `phone_regions`) is planted only where its context says phone (after
"Tel.", "call us on", in a vCard TEL field or a signature block), the others anywhere, running prose without
any phone word included.
"""

from dataclasses import dataclass
from typing import Callable


def digits(rng, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _nxx(rng) -> str:
    """A made-up North American area code (some unassigned) with an exchange that may start with 0 or 1."""
    return f"{rng.randint(2, 9)}{digits(rng, 2)}"


def _us_fiction(rng) -> str:
    return f"555-01{digits(rng, 2)}"


@dataclass(frozen=True)
class PhoneFormat:
    name: str  # "<country> <how it is written>", the key of its recall in the report
    country: str  # ISO 3166
    needs_context: bool  # a national number outside the default phone_regions
    make: Callable  # rng -> number


F = PhoneFormat
PHONE_FORMATS = [
    # International: "+" and the country code, for every country, with any grouping.
    F("US +1 NXX 555 01XX", "US", False, lambda r: rng_pick(r, [f"+1 {_nxx(r)} 555 01{digits(r, 2)}", f"+1-{_nxx(r)}-{_us_fiction(r)}",
                                                                    f"+1 ({_nxx(r)}) {_us_fiction(r)}"])),
    F("E.164 compact", "*", False, lambda r: rng_pick(r, [f"+1{_nxx(r)}55501{digits(r, 2)}", f"+4420794600{digits(r, 2)}",
                                                          f"+61491570{digits(r, 3)}", f"+4930{digits(r, 8)}", f"+8190{digits(r, 8)}"])),
    F("GB +44 20 7946 0XXX", "GB", False, lambda r: rng_pick(r, [f"+44 20 7946 0{digits(r, 3)}", f"+44 (0)20 7946 0{digits(r, 3)}"])),
    F("GB 0044 161 496 0XXX", "GB", False, lambda r: f"0044 161 496 0{digits(r, 3)}"),
    F("DE +49 30 XXXXXXXX", "DE", False, lambda r: rng_pick(r, [f"+49 30 {digits(r, 8)}", f"+49 (0)30 {digits(r, 7)}", f"+49-89-{digits(r, 7)}"])),
    F("DE +49 151 XXXXXXXX", "DE", False, lambda r: f"+49 15{r.randint(1, 9)} {digits(r, 8)}"),
    F("FR +33 1 99 00 XX XX", "FR", False, lambda r: rng_pick(r, [f"+33 1 99 00 {digits(r, 2)} {digits(r, 2)}", f"+33 (0)6 39 98 {digits(r, 2)} {digits(r, 2)}",
                                                                     f"+33.6.39.98.{digits(r, 2)}.{digits(r, 2)}"])),
    F("JP +81 3-XXXX-XXXX", "JP", False, lambda r: rng_pick(r, [f"+81 3-{digits(r, 4)}-{digits(r, 4)}", f"+81 45-{digits(r, 4)}-{digits(r, 4)}",
                                                                   f"+81 90-{digits(r, 4)}-{digits(r, 4)}"])),
    F("AU +61 2 5550 XXXX", "AU", False, lambda r: rng_pick(r, [f"+61 2 5550 {digits(r, 4)}", f"+61 491 570 {digits(r, 3)}", f"+61 7 3{digits(r, 3)} {digits(r, 4)}"])),
    F("IN +91 9XXXX XXXXX", "IN", False, lambda r: rng_pick(r, [f"+91 {r.randint(6, 9)}{digits(r, 4)} {digits(r, 5)}", f"+91-22-{r.randint(2, 6)}{digits(r, 3)}-{digits(r, 4)}"])),
    F("BR +55 11 9XXXX-XXXX", "BR", False, lambda r: rng_pick(r, [f"+55 11 9{digits(r, 4)}-{digits(r, 4)}", f"+55 (21) 2{digits(r, 3)}-{digits(r, 4)}"])),
    F("CN +86 10 XXXX XXXX", "CN", False, lambda r: rng_pick(r, [f"+86 10 {digits(r, 4)} {digits(r, 4)}", f"+86 13{r.randint(0, 9)} {digits(r, 4)} {digits(r, 4)}"])),
    F("ES +34 91 XXX XX XX", "ES", False, lambda r: rng_pick(r, [f"+34 91 {digits(r, 3)} {digits(r, 2)} {digits(r, 2)}", f"+34 6{digits(r, 2)} {digits(r, 3)} {digits(r, 3)}"])),
    F("IT +39 06 XXXX XXXX", "IT", False, lambda r: rng_pick(r, [f"+39 06 {digits(r, 4)} {digits(r, 4)}", f"+39 3{digits(r, 2)} {digits(r, 3)} {digits(r, 4)}"])),
    F("MX +52 55 XXXX XXXX", "MX", False, lambda r: f"+52 55 {digits(r, 4)} {digits(r, 4)}"),
    F("RU +7 495 XXX-XX-XX", "RU", False, lambda r: f"+7 495 {digits(r, 3)}-{digits(r, 2)}-{digits(r, 2)}"),
    F("KR +82 2-XXX-XXXX", "KR", False, lambda r: rng_pick(r, [f"+82 2-{digits(r, 3)}-{digits(r, 4)}", f"+82 10-{digits(r, 4)}-{digits(r, 4)}"])),
    F("ZA +27 21 XXX XXXX", "ZA", False, lambda r: f"+27 21 {digits(r, 3)} {digits(r, 4)}"),
    F("CH +41 44 XXX XX XX", "CH", False, lambda r: f"+41 44 {digits(r, 3)} {digits(r, 2)} {digits(r, 2)}"),
    F("NL +31 20 XXX XXXX", "NL", False, lambda r: f"+31 20 {digits(r, 3)} {digits(r, 4)}"),
    # US national formats: the default phone_regions, found without context.
    F("US (NXX) 555-01XX", "US", False, lambda r: f"({_nxx(r)}) {_us_fiction(r)}"),
    F("US NXX-NXX-XXXX any area and exchange", "US", False, lambda r: f"{_nxx(r)}-{digits(r, 3)}-{digits(r, 4)}"),
    F("US NXX.NXX.XXXX any area and exchange", "US", False, lambda r: f"{_nxx(r)}.{digits(r, 3)}.{digits(r, 4)}"),
    F("US 1-800-555-01XX", "US", False, lambda r: f"1-{rng_pick(r, ['800', '888', '877'])}-{_us_fiction(r)}"),
    # Other countries' national formats: found where the context says phone.
    F("GB 020 7946 0XXX", "GB", True, lambda r: rng_pick(r, [f"020 7946 0{digits(r, 3)}", f"(020) 7946 0{digits(r, 3)}", f"0161 496 0{digits(r, 3)}"])),
    F("GB 07700 900XXX", "GB", True, lambda r: f"07700 900{digits(r, 3)}"),
    F("DE 030 XXXXXXX", "DE", True, lambda r: rng_pick(r, [f"030 {digits(r, 7)}", f"030/{digits(r, 7)}", f"(089) {digits(r, 7)}", f"040-{digits(r, 7)}"])),
    F("DE 0151 XXXXXXXX", "DE", True, lambda r: rng_pick(r, [f"015{r.randint(1, 9)} {digits(r, 8)}", f"0170 / {digits(r, 3)} {digits(r, 2)} {digits(r, 2)}"])),
    F("FR 01 99 00 XX XX", "FR", True, lambda r: rng_pick(r, [f"01 99 00 {digits(r, 2)} {digits(r, 2)}", f"06 39 98 {digits(r, 2)} {digits(r, 2)}"])),
    F("FR 06.39.98.XX.XX", "FR", True, lambda r: rng_pick(r, [f"06.39.98.{digits(r, 2)}.{digits(r, 2)}", f"01-99-00-{digits(r, 2)}-{digits(r, 2)}"])),
    F("AU (02) 5550 XXXX", "AU", True, lambda r: rng_pick(r, [f"(02) 5550 {digits(r, 4)}", f"(03) 7010 {digits(r, 4)}", f"02 5550 {digits(r, 4)}"])),
    F("AU 0491 570 XXX", "AU", True, lambda r: f"0491 570 {digits(r, 3)}"),
    F("JP 03-XXXX-XXXX", "JP", True, lambda r: rng_pick(r, [f"03-{digits(r, 4)}-{digits(r, 4)}", f"090-{digits(r, 4)}-{digits(r, 4)}", f"045-{digits(r, 3)}-{digits(r, 4)}"])),
    F("IN 9XXXX XXXXX", "IN", True, lambda r: rng_pick(r, [f"{r.randint(6, 9)}{digits(r, 4)} {digits(r, 5)}", f"0{r.randint(6, 9)}{digits(r, 4)} {digits(r, 5)}",
                                                              f"022-{r.randint(2, 6)}{digits(r, 3)}-{digits(r, 4)}"])),
    F("BR (11) 9XXXX-XXXX", "BR", True, lambda r: rng_pick(r, [f"(11) 9{digits(r, 4)}-{digits(r, 4)}", f"(21) 2{digits(r, 3)}-{digits(r, 4)}"])),
    F("CN 010-XXXXXXXX", "CN", True, lambda r: rng_pick(r, [f"010-{digits(r, 8)}", f"13{r.randint(0, 9)} {digits(r, 4)} {digits(r, 4)}"])),
    F("ES 91 XXX XX XX", "ES", True, lambda r: rng_pick(r, [f"91 {digits(r, 3)} {digits(r, 2)} {digits(r, 2)}", f"6{digits(r, 2)} {digits(r, 2)} {digits(r, 2)} {digits(r, 2)}",
                                                               f"{r.randint(6, 9)}{digits(r, 2)} {digits(r, 3)} {digits(r, 3)}"])),
    F("IT 06 XXXX XXXX", "IT", True, lambda r: rng_pick(r, [f"06 {digits(r, 4)} {digits(r, 4)}", f"3{digits(r, 2)} {digits(r, 3)} {digits(r, 4)}"])),
    F("MX 55 XXXX XXXX", "MX", True, lambda r: f"55 {digits(r, 4)} {digits(r, 4)}"),
    F("RU 8 (495) XXX-XX-XX", "RU", True, lambda r: f"8 (495) {digits(r, 3)}-{digits(r, 2)}-{digits(r, 2)}"),
    F("KR 02-XXX-XXXX", "KR", True, lambda r: rng_pick(r, [f"02-{digits(r, 3)}-{digits(r, 4)}", f"010-{digits(r, 4)}-{digits(r, 4)}"])),
    F("NL 020-XXX XXXX", "NL", True, lambda r: rng_pick(r, [f"020-{digits(r, 3)} {digits(r, 4)}", f"06-{digits(r, 8)}"])),
    F("CH 044 XXX XX XX", "CH", True, lambda r: f"044 {digits(r, 3)} {digits(r, 2)} {digits(r, 2)}"),
    F("SG XXXX XXXX", "SG", True, lambda r: f"{r.choice('689')}{digits(r, 3)} {digits(r, 4)}"),
    F("ZA 021 XXX XXXX", "ZA", True, lambda r: f"021 {digits(r, 3)} {digits(r, 4)}"),
]
del F


def rng_pick(rng, options):
    return rng.choice(options)


NAMES = ["Anna Schmidt", "James Okafor", "Li Wei", "Maria Garcia", "Sophie Dubois", "Rahul Patel", "Chen Tanaka"]
COMPANIES = ["Acme GmbH", "Northwind Ltd", "Globex S.A.", "Initech Pty Ltd", "Umbrella K.K.", "Hooli Inc."]

# Where a number is written. "{}" is the number; "{name}" and "{company}" are filled in. A signature block
# starts and ends on a line of its own.
LABELS = ["Tel.: {}", "Phone: {}", "Mobile {}", "Cell: {}", "Fax {}", "ph. {}", "T: {}", "Tel/Fax: {}"]
PROSE_WITH_CONTEXT = ["For bookings, call us on {} before noon.", "Her mobile number, {}, was listed in the report.",
                      "Questions? Phone the office at {} or write to us.", "He said to call {} if the gate was closed."]
VCARD = ["\nBEGIN:VCARD\nVERSION:3.0\nFN:{name}\nORG:{company}\nTEL;TYPE=work,voice:{}\nEND:VCARD\n"]
SIGNATURES = ["\nBest regards,\n{name}\n{company}\n{}\n", "\n--\n{name} | {company}\n{}\n", "\nKind regards,\n\n{name}\n{company}\n{}\n"]
# Running prose without a phone word: for the formats a reader recognises anywhere.
PROSE = ["You can reach the front desk at {} until 6 pm.", "The number on the flyer, {}, is out of date.",
         "Reservations go through {} on weekdays.", "She wrote {} on the back of the ticket."]
PHONE_PLACES = {"label": LABELS, "prose with context": PROSE_WITH_CONTEXT, "vcard": VCARD, "signature": SIGNATURES,
                "prose": PROSE}


def phone_template(rng, fmt: PhoneFormat) -> tuple[str, str]:
    """(place, template) for a number of format `fmt`: anywhere, or where the context says phone."""
    places = [p for p in PHONE_PLACES if not (fmt.needs_context and p == "prose")]
    place = rng.choice(places)
    template = rng.choice(PHONE_PLACES[place])
    return place, template.replace("{name}", rng.choice(NAMES)).replace("{company}", rng.choice(COMPANIES))


# National formats (no country code) as each country writes them, valid by phonenumbers' metadata: found in
# running prose without any phone word when the region is in phone_regions (kinds "PHONE_NUMBER:<region>").
NATIONAL_PHONE_FORMATS = {
    "GB": lambda r, sep: r.choice([f"020{sep}7946{sep}{digits(r, 4)}", f"0161{sep}496{sep}{digits(r, 4)}",
                                   f"07911{sep}{digits(r, 6)}", f"(020) 7946 {digits(r, 4)}"]),
    "DE": lambda r, sep: r.choice([f"030{sep}{r.randint(1000000, 99999999)}", f"089{sep}{r.randint(1000000, 9999999)}",
                                   f"0151{sep}{r.randint(10000000, 99999999)}", f"(040) {r.randint(1000000, 9999999)}"]),
    "FR": lambda r, sep: f"0{r.randint(1, 7)}{sep}" + sep.join(digits(r, 2) for _ in range(4)),
    "IN": lambda r, sep: r.choice([f"0{r.randint(6, 9)}{digits(r, 4)} {digits(r, 5)}",
                                   f"{r.randint(6, 9)}{digits(r, 4)} {digits(r, 5)}",
                                   f"022{sep}{r.randint(2, 6)}{digits(r, 3)}{sep}{digits(r, 4)}"]),
    "ES": lambda r, sep: _spanish(r, " " if sep == "." else sep),
}


def _spanish(r, sep: str) -> str:
    """Not dotted: "91.715.91.88" is read as a version and "901.108.923" as a number with thousands separators."""
    return r.choice([f"{r.randint(6, 9)}{digits(r, 2)}{sep}{digits(r, 3)}{sep}{digits(r, 3)}",
                     f"91{sep}{digits(r, 3)}{sep}{digits(r, 2)}{sep}{digits(r, 2)}"])


def national_phone(rng, region: str) -> str:
    """A number in `region`'s national format that phonenumbers' matcher finds whole for that region."""
    import phonenumbers

    while True:
        value = NATIONAL_PHONE_FORMATS[region](rng, rng.choice([" ", "-", "."]))
        found = list(phonenumbers.PhoneNumberMatcher(value, region, leniency=phonenumbers.Leniency.VALID))
        if [(m.start, m.end) for m in found] == [(0, len(value))]:
            return value
