"""Sentence embeddings for the offline engine, behind one small interface.

`Embedder` is all the engine needs: a list of texts in, one L2-normalised row per
text out. `WordLlamaEmbedder` is the default: its weights ship inside the
`wordllama` wheel, so it runs with no network and loads in a fraction of a second.
A heavier model (sentence-transformers, an API) can be plugged in by passing any
object with the same `embed` method to `analyse_offline(..., embedder=...)`.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    """Anything that turns texts into L2-normalised vectors, one row per text."""

    name: str

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed texts as a float32 array of shape (len(texts), dim), rows L2-normalised."""
        ...


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Scale rows to unit length; all-zero rows (no known words) stay zero."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


class WordLlamaEmbedder:
    """WordLlama's bundled 256-dimension model: fast, offline, good enough for themes."""

    name = "wordllama-l2-256"

    def __init__(self, model: Any | None = None) -> None:
        self._model = model

    @property
    def model(self) -> Any:
        if self._model is None:
            self._model = _load_wordllama()
        return self._model

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed texts with WordLlama, L2-normalised."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Large batches: WordLlama is a lookup-and-pool model, so bigger is simply faster.
        return normalise(self.model.embed(list(texts), norm=False, batch_size=512))

    @property
    def dim(self) -> int:
        return int(self.model.embed(["dimension probe"]).shape[1])


_lock = threading.Lock()
_wordllama: Any | None = None
_default: WordLlamaEmbedder | None = None


def _load_wordllama() -> Any:
    """Load the bundled WordLlama weights once per process, never from the network."""
    global _wordllama
    with _lock:
        if _wordllama is None:
            import wordllama
            from wordllama import WordLlama

            # Plain WordLlama.load() looks in a user cache folder and then downloads;
            # the weights it needs are already inside the installed package.
            _wordllama = WordLlama.load(
                cache_dir=Path(wordllama.__file__).parent, disable_download=True
            )
        return _wordllama


def default_embedder() -> WordLlamaEmbedder:
    """The process-wide default embedder (loaded lazily, on first use)."""
    global _default
    if _default is None:
        _default = WordLlamaEmbedder()
    return _default
