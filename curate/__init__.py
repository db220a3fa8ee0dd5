"""curate: build LLM pretraining data from raw web and book dumps."""

__version__ = "0.1.0"
