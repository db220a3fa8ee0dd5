"""fastText models shared by the language-id and quality stages: loaded once per process and file version,
and pinned for the whole of a task.

Models are cached by path *and* file identity, so a model retrained to the same path is reloaded, never served
stale (datatrove's FastTextClassifierFilter keeps serving the old one).
"""

import os

from datatrove.data import DocumentsPipeline

from curate.stage import Stage

_MODELS: dict[str, tuple[tuple, object]] = {}



def load_model(path: str | os.PathLike):
    """The fastText model at `path`, loaded once per process and reloaded when the file changes.

    The cache key holds the file's mtime, size, inode and ctime as well as its path: a model retrained or
    replaced at the same path (train_classifier replaces the file, so it gets a new inode) is loaded again.
    """
    path = os.path.abspath(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such fastText model file") from None
    identity = (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)
    cached = _MODELS.get(path)
    if cached is not None and cached[0] == identity:
        return cached[1]
    import fasttext

    # Older fasttext builds print "load_model does not return WordVectorModel..." on every load.
    if hasattr(fasttext.FastText, "eprint"):
        fasttext.FastText.eprint = lambda *args, **kwargs: None
    try:
        model = fasttext.load_model(path)
    except ValueError as e:  # fastText: "<path> has wrong file format!"
        raise ValueError(f"{path}: not a fastText model ({e})") from None
    _MODELS[path] = (identity, model)
    return model


def predict(model, line: str, k: int = 1) -> list[tuple[str, float]]:
    """The k most probable (label, probability) pairs for one line of text (no '\\n' in it).

    Calls the C++ binding directly rather than `model.predict`: the Python wrapper of fasttext 0.9.2 builds
    its result with `np.array(probs, copy=False)`, which raises under numpy 2 in builds other than
    fasttext-numpy2-wheel; and it passes `str` to the binding, which raises a TypeError on lone surrogates
    (text decoded with errors="surrogateescape"). Encoding here with errors="replace" avoids both, and the
    probabilities come back as plain Python floats.
    """
    data = line.encode("utf-8", errors="replace") + b"\n"
    return [(label, min(prob, 1.0)) for prob, label in model.f.predict(data, k, 0.0, "strict")]


class FastTextStage(Stage):
    """A stage that scores documents with the fastText model at `self.model_path`. The model is loaded once
    per task and kept for all of it, so a file replaced mid-task cannot give one task two models."""

    model_path: str
    _pinned = None

    def load(self):
        return load_model(self.model_path)

    def model(self):
        return self._pinned if self._pinned is not None else self.load()

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self._pinned = self.load()
        try:
            yield from super().run(data, rank, world_size)
        finally:
            self._pinned = None
