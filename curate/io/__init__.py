"""Readers for dumps, the sharded parquet writer, and the removed/ and quarantine/ logs."""
