"""Phone numbers for the PII evaluation set (evalset.py): formats as people write them in 18 countries, and
the places they are written in (a label, running prose, a vCard, a signature block).

Every number is made up. Where a country reserves numbers for fiction they come from that range: the US
555-0100..0199, the UK's Ofcom drama numbers (020 7946 0xxx, 0161 496 0xxx, 07700 900xxx), Australia's
ACMA ranges (02 5550 xxxx, 0491 570 xxx), France's ARCEP fiction numbers (01 99 00 xx xx, 06 39 98 xx xx).
Elsewhere the digits are random in the country's real format, and US numbers in NXX-XXX-XXXX include area
and exchange codes that are not assigned (555-019-2841): a reader still sees a phone number.

Each format says whether a reader needs context to see a phone number in it: a national number of a country
other than the US (the default `phone_regions`) is planted only where its context says phone (after
"Tel.", "call us on", in a vCard TEL field or a signature block), the others anywhere, running prose without
any phone word included.
"""

from dataclasses import dataclass

# A pattern's placeholders: "X" any digit, "N" 2-9 (a North American area code, some of them unassigned),
# "M" 6-9 (an Indian mobile number's first digit). Every other character is written as it is.
PLACEHOLDERS = {"X": "0123456789", "N": "23456789", "M": "6789"}


def digits(rng, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


@dataclass(frozen=True)
class PhoneFormat:
    country: str  # ISO 3166 ("*": several)
    needs_context: bool  # a national number outside the default phone_regions
    patterns: tuple[str, ...]  # the ways of writing it, drawn from at random

    @property
    def name(self) -> str:
        """"<country> <first pattern>": the key of the format's recall in the report."""
        return f"{self.country if self.country != '*' else 'E.164 compact,'} {self.patterns[0]}"

    def make(self, rng) -> str:
        return "".join(rng.choice(PLACEHOLDERS[c]) if c in PLACEHOLDERS else c for c in rng.choice(self.patterns))


def F(country: str, needs_context: bool, *patterns: str) -> PhoneFormat:
    return PhoneFormat(country, needs_context, patterns)


PHONE_FORMATS = [
    # International: "+" and the country code, for every country, with any grouping.
    F("US", False, "+1 NXX 555 01XX", "+1-NXX-555-01XX", "+1 (NXX) 555-01XX"),
    F("*", False, "+1NXX55501XX", "+4420794600XX", "+61491570XXX", "+4930XXXXXXXX", "+8190XXXXXXXX"),
    F("GB", False, "+44 20 7946 0XXX", "+44 (0)20 7946 0XXX"),
    F("GB", False, "0044 161 496 0XXX"),
    F("DE", False, "+49 30 XXXXXXXX", "+49 (0)30 XXXXXXX", "+49-89-XXXXXXX"),
    F("DE", False, "+49 15N XXXXXXXX"),
    F("FR", False, "+33 1 99 00 XX XX", "+33 (0)6 39 98 XX XX", "+33.6.39.98.XX.XX"),
    F("JP", False, "+81 3-XXXX-XXXX", "+81 45-XXXX-XXXX", "+81 90-XXXX-XXXX"),
    F("AU", False, "+61 2 5550 XXXX", "+61 491 570 XXX", "+61 7 3XXX XXXX"),
    F("IN", False, "+91 MXXXX XXXXX", "+91-22-NXXX-XXXX"),
    F("BR", False, "+55 11 9XXXX-XXXX", "+55 (21) 2XXX-XXXX"),
    F("CN", False, "+86 10 XXXX XXXX", "+86 13X XXXX XXXX"),
    F("ES", False, "+34 91 XXX XX XX", "+34 6XX XXX XXX"),
    F("IT", False, "+39 06 XXXX XXXX", "+39 3XX XXX XXXX"),
    F("MX", False, "+52 55 XXXX XXXX"),
    F("RU", False, "+7 495 XXX-XX-XX"),
    F("KR", False, "+82 2-XXX-XXXX", "+82 10-XXXX-XXXX"),
    F("ZA", False, "+27 21 XXX XXXX"),
    F("CH", False, "+41 44 XXX XX XX"),
    F("NL", False, "+31 20 XXX XXXX"),
    # US national formats: the default phone_regions, found without context; any area and exchange code.
    F("US", False, "(NXX) 555-01XX"),
    F("US", False, "NXX-XXX-XXXX"),
    F("US", False, "NXX.XXX.XXXX"),
    F("US", False, "1-800-555-01XX", "1-888-555-01XX", "1-877-555-01XX"),
    # Other countries' national formats: found where the context says phone.
    F("GB", True, "020 7946 0XXX", "(020) 7946 0XXX", "0161 496 0XXX"),
    F("GB", True, "07700 900XXX"),
    F("DE", True, "030 XXXXXXX", "030/XXXXXXX", "(089) XXXXXXX", "040-XXXXXXX"),
    F("DE", True, "015N XXXXXXXX", "0170 / XXX XX XX"),
    F("FR", True, "01 99 00 XX XX", "06 39 98 XX XX"),
    F("FR", True, "06.39.98.XX.XX", "01-99-00-XX-XX"),
    F("AU", True, "(02) 5550 XXXX", "(03) 7010 XXXX", "02 5550 XXXX"),
    F("AU", True, "0491 570 XXX"),
    F("JP", True, "03-XXXX-XXXX", "090-XXXX-XXXX", "045-XXX-XXXX"),
    F("IN", True, "MXXXX XXXXX", "0MXXXX XXXXX", "022-NXXX-XXXX"),
    F("BR", True, "(11) 9XXXX-XXXX", "(21) 2XXX-XXXX"),
    F("CN", True, "010-XXXXXXXX", "13X XXXX XXXX"),
    F("ES", True, "91 XXX XX XX", "6XX XX XX XX", "MXX XXX XXX"),
    F("IT", True, "06 XXXX XXXX", "3XX XXX XXXX"),
    F("MX", True, "55 XXXX XXXX"),
    F("RU", True, "8 (495) XXX-XX-XX"),
    F("KR", True, "02-XXX-XXXX", "010-XXXX-XXXX"),
    F("NL", True, "020-XXX XXXX", "06-XXXXXXXX"),
    F("CH", True, "044 XXX XX XX"),
    F("SG", True, "6XXX XXXX", "8XXX XXXX", "9XXX XXXX"),
    F("ZA", True, "021 XXX XXXX"),
]


NAMES = ["Anna Schmidt", "James Okafor", "Li Wei", "Maria Garcia", "Sophie Dubois", "Rahul Patel", "Chen Tanaka"]
COMPANIES = ["Acme GmbH", "Northwind Ltd", "Globex S.A.", "Initech Pty Ltd", "Umbrella K.K.", "Hooli Inc."]

# Where a number is written. "{}" is the number; "{name}" and "{company}" are filled in. A signature block
# starts and ends on a line of its own.
LABELS = ["Tel.: {}", "Phone: {}", "Mobile {}", "Cell: {}", "Fax {}", "ph. {}", "T: {}", "Tel/Fax: {}"]
PROSE_WITH_CONTEXT = ["For bookings, call us on {} before noon.", "Her mobile number, {}, was listed in the report.",
                      "Questions? Phone the office at {} or write to us.", "He said to call {} if the gate was closed."]
VCARD = ["\nBEGIN:VCARD\nVERSION:3.0\nFN:{name}\nORG:{company}\nTEL;TYPE=work,voice:{}\nEND:VCARD\n"]
SIGNATURES = ["\nBest regards,\n{name}\n{company}\n{}\n", "\n--\n{name} | {company}\n{}\n",
              "\nKind regards,\n\n{name}\n{company}\n{}\n"]
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
