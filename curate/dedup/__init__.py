"""Near-duplicate removal at three levels, on one MinHash engine (`minhash`).

- documents: `dedup_documents(inputs, out_dir, config, tasks, workers, keep)`, four datatrove stages
  (signatures, buckets, cluster, filter) coupled by manifests, not by task rank (`document`).
- sentences / lines / paragraphs: the `SentenceDedup` stage, exact after normalisation, per task (`sentence`).
- datasets: `build_index` + the `DatasetDedup` stage, decontamination against saved indexes (`dataset`).

Importing this package imports nothing heavy; datasketch and pyarrow load when used.
"""

from curate.dedup.minhash import MinhashConfig, choose_bands

__all__ = ["MinhashConfig", "choose_bands", "dedup_documents", "SentenceDedup", "DatasetDedup", "build_index"]


def __getattr__(name):
    if name == "dedup_documents":
        from curate.dedup.document import dedup_documents

        return dedup_documents
    if name == "SentenceDedup":
        from curate.dedup.sentence import SentenceDedup

        return SentenceDedup
    if name in ("DatasetDedup", "build_index"):
        from curate.dedup import dataset

        return getattr(dataset, name)
    raise AttributeError(name)
