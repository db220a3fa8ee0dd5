"""Test kits: generators of labelled evaluation data (planted near-duplicate pairs, PII with hard negatives,
labelled web pages) and their scoring, shared by the tests and by benchmarks/. Not part of the package:
nothing in curate/ imports them. Benchmarks put tests/ on sys.path to import them."""
