"""The base class of curate's recognizers (recognizers.py, phones.py) and the scores they give."""

from presidio_analyzer import LocalRecognizer, RecognizerResult

# Scores: a validated match is near certain; a phone number is the entity most often confused with other
# numbers, so it ranks below the others when two candidates overlap. A number that is a phone number only
# if its context says so scores PHONE_UNCONFIRMED_SCORE without that context, under the stage's default
# min_score (0.5); its context raises it to PHONE_SCORE, as presidio's context enhancement raises its
# PhoneRecognizer's 0.4 by 0.35.
VALIDATED = 0.95
PHONE_SCORE = 0.75
PHONE_UNCONFIRMED_SCORE = 0.4
CREDENTIALS_SCORE = 0.97


class FastRecognizer(LocalRecognizer):
    """A recognizer for one entity: `candidates(text)` yields (start, end, score) of validated matches."""

    ENTITY = ""

    def __init__(self):
        super().__init__(supported_entities=[self.ENTITY], supported_language="en", name=type(self).__name__)

    def load(self) -> None:
        pass

    def candidates(self, text: str):
        raise NotImplementedError

    def analyze(self, text, entities, nlp_artifacts=None):
        if self.ENTITY not in entities:
            return []
        return [RecognizerResult(self.ENTITY, s, e, score) for s, e, score in self.candidates(text)]
