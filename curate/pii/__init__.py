"""PII scrubbing: presidio recognizers (fast, validated, offline), anonymizer operators, the `pii` stage."""
