"""Test kits: generators of labelled evaluation data (planted near-duplicate pairs, PII with hard negatives,
labelled web pages) and their scoring, shared by the tests and by benchmarks/, and a real single-node Slurm
cluster started for the tests (slurm_cluster.py). Not part of the package:
nothing in curate/ imports them. Benchmarks put tests/ on sys.path to import them."""
