"""An offline presidio AnalyzerEngine: no spaCy model download, no public-suffix-list fetch.

`AnalyzerEngine()` with no arguments loads (and, when missing, downloads) a spaCy model and registers
presidio's predefined recognizers, whose EmailRecognizer asks tldextract for the public-suffix list over the
network. Here the NLP engine is presidio's NoOpNlpEngine (pattern recognizers need no tokens) and the
registry holds only the recognizers asked for. A spaCy model, when configured, must load from disk.
"""

from pathlib import Path

from curate.pii.recognizers import DEFAULT_ENTITIES, RECOGNIZERS, PhoneRecognizer

NER_ENTITIES = ("PERSON", "LOCATION", "NRP", "DATE_TIME")
# NoOpNlpEngine wants a model entry per language; its model_name is never loaded.
NO_MODEL = [{"lang_code": "en", "model_name": "none"}]


def check_spacy_model(spacy_model: str) -> None:
    """Refuse a spaCy model that is neither an installed package nor a folder on disk (loading by name
    would otherwise try pip / the network, or fail deep inside a worker)."""
    import spacy.util

    if not (Path(spacy_model).is_dir() or spacy.util.is_package(spacy_model)):
        raise ValueError(
            f"pii: spacy_model {spacy_model!r} is neither an installed spaCy package nor a model folder on disk; "
            f"install it (e.g. `pip install {spacy_model}` from a local wheel) or give its path, "
            f"or set spacy_model: null to scrub pattern entities only"
        )


def build_analyzer(entities: list[str] | None = None, spacy_model: str | None = None, phone_regions: list[str] | None = None):
    """AnalyzerEngine with curate's fast recognizers for `entities` (+ presidio's SpacyRecognizer for
    PERSON/LOCATION when `spacy_model` loads offline). `phone_regions`: the regions whose national phone
    formats are recognised (default: US)."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NoOpNlpEngine

    entities = list(entities or DEFAULT_ENTITIES)
    registry = RecognizerRegistry(supported_languages=["en"])
    for entity in entities:
        if entity == "PHONE_NUMBER" and phone_regions:
            registry.add_recognizer(PhoneRecognizer(phone_regions))
        elif entity in RECOGNIZERS:
            registry.add_recognizer(RECOGNIZERS[entity]())
    if spacy_model:
        from presidio_analyzer.nlp_engine import SpacyNlpEngine
        from presidio_analyzer.predefined_recognizers import SpacyRecognizer

        check_spacy_model(spacy_model)
        nlp_engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": spacy_model}])
        nlp_engine.load()
        registry.add_recognizer(SpacyRecognizer(supported_language="en"))
    else:
        nlp_engine = NoOpNlpEngine(models=NO_MODEL)
    enhancer = None if spacy_model else NoContext()
    return AnalyzerEngine(nlp_engine=nlp_engine, registry=registry, supported_languages=["en"], context_aware_enhancer=enhancer)


def _no_context_class():
    from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer

    class NoContextEnhancer(ContextAwareEnhancer):
        """Leaves scores as the recognizers gave them. Ours are validated (checksums, phone metadata) and
        score the same whatever words surround them; presidio's lemma enhancer deep-copies every result
        of every document (15% of the time) to find context words that a NoOp NLP engine never gives it."""

        def __init__(self):
            super().__init__(context_similarity_factor=0.0, min_score_with_context_similarity=0.0, context_prefix_count=0, context_suffix_count=0)

        def enhance_using_context(self, text, raw_results, nlp_artifacts, recognizers, context=None):
            return raw_results

    return NoContextEnhancer


def NoContext():
    return _no_context_class()()


def offline_tldextract():
    """A tldextract extractor that uses its bundled suffix-list snapshot and never fetches (DESIGN trap)."""
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def build_presidio_reference(entities: list[str] | None = None):
    """presidio's own predefined recognizers for the same entities, offline: what a user of presidio gets
    without an NLP model. Its EmailRecognizer's module-level `tldextract.extract` is pointed at an offline
    extractor first (it would fetch the public-suffix list). For benchmarks and comparisons only."""
    import tldextract
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NoOpNlpEngine
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer, EmailRecognizer, IbanRecognizer, IpRecognizer, PhoneRecognizer, UrlRecognizer,
        UsSsnRecognizer,
    )
    from presidio_analyzer.predefined_recognizers.generic import email_recognizer

    extractor = offline_tldextract()
    tldextract.extract = extractor
    email_recognizer.tldextract.extract = extractor
    wanted = set(entities or DEFAULT_ENTITIES)
    registry = RecognizerRegistry(supported_languages=["en"])
    for entity, cls in (
        ("EMAIL_ADDRESS", EmailRecognizer), ("PHONE_NUMBER", PhoneRecognizer), ("CREDIT_CARD", CreditCardRecognizer),
        ("IBAN_CODE", IbanRecognizer), ("IP_ADDRESS", IpRecognizer), ("US_SSN", UsSsnRecognizer),
        ("URL_WITH_CREDENTIALS", UrlRecognizer),  # presidio has no credentials entity: its URL recognizer
    ):
        if entity in wanted:
            registry.add_recognizer(cls())
    return AnalyzerEngine(nlp_engine=NoOpNlpEngine(models=NO_MODEL), registry=registry, supported_languages=["en"])
