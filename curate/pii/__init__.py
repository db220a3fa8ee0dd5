"""PII scrubbing: presidio recognizers (fast, validated, offline), anonymizer operators, the `pii` stage."""

import sys


def _import_presidio() -> None:
    """Import presidio with transformers hidden from it.

    presidio_analyzer imports transformers' `pipeline` when it is imported, for its TransformersNlpEngine,
    which curate never uses (its recognizers are patterns on presidio's NoOp or spaCy engine). Where
    transformers is installed, that one import loads transformers' model code: 3.4 CPU-seconds and 160 MB in
    every process that scrubs (each worker of a run imports this package), measured with transformers 5.
    presidio catches the ImportError (nlp_engine/huggingface_token_pipe.py), which a None entry in
    sys.modules raises; the entry is removed afterwards, so the process can import transformers as usual.
    """
    if "transformers" in sys.modules or "presidio_analyzer" in sys.modules:
        return
    sys.modules["transformers"] = None
    try:
        import presidio_analyzer  # noqa: F401
    finally:
        del sys.modules["transformers"]


_import_presidio()
