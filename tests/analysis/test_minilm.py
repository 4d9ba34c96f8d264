"""The paraphrase encoder (all-MiniLM-L6-v2 run with numpy) and how themes use it."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from bot.analysis import minilm
from bot.analysis.embeddings import (
    has_paraphrase_encoder,
    paraphrase_embedder,
    sentence_embedder,
    word_embedder,
)
from bot.analysis.grouping import beside, centred
from bot.analysis.models import AnswerRecord
from bot.analysis.offline import _TextSpace


def test_the_wheel_is_installed_and_holds_the_published_weights():
    # requirements-models.txt installs it; the engine reads themes less well without it.
    assert has_paraphrase_encoder()
    model = minilm.model()
    assert model.layers == 6 and model.heads == 12


def test_it_reproduces_the_similarities_sentence_transformers_publishes():
    # The quick start of sentence-transformers' documentation, for this model and these
    # three sentences, prints this matrix: tokenizer, six layers, pooling and
    # normalisation all have to match the reference for it to come out to four places.
    vectors = paraphrase_embedder().embed(
        ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    )
    published = [[1.0000, 0.6660, 0.1046], [0.6660, 1.0000, 0.1411], [0.1046, 0.1411, 1.0000]]
    assert np.allclose(vectors @ vectors.T, published, atol=1e-4)


def test_it_tokenises_as_the_model_was_trained():
    encoded = minilm.model().tokenizer.encode("The refund form is broken.")
    assert encoded.tokens == [
        "[CLS]", "the", "ref", "##und", "form", "is", "broken", ".", "[SEP]"
    ]  # fmt: skip


def test_one_point_in_other_words_sits_closer_than_another_point():
    vectors = paraphrase_embedder().embed(
        [
            "The refund form keeps failing, so customers wait weeks for their money.",
            "Refunds get stuck for ages because the form breaks halfway through.",
            "Loyal customers pay more at renewal than people who just signed up.",
        ]
    )
    assert vectors.dtype == np.float32 and vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    same, other = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    assert same > 0.6 > other


def test_a_text_reads_the_same_alone_or_in_a_batch_of_longer_ones():
    # Padding in a batch must not change a text's vector (the attention mask keeps it out).
    texts = ["Money.", "Cost, cost, cost. Every briefing is productivity per gang. Sad really."]
    alone = paraphrase_embedder().embed(texts[:1])
    together = paraphrase_embedder().embed(texts)
    assert np.allclose(alone[0], together[0], atol=1e-5)
    assert paraphrase_embedder().embed([]).shape == (0, 384)


@pytest.mark.parametrize("altered", ["model.safetensors", "tokenizer.json"])
def test_files_that_are_not_the_published_ones_are_refused(tmp_path: Path, altered: str):
    source = minilm.archive_path()
    assert source is not None
    tampered = tmp_path / "model.zip"
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(tampered, "w") as copy:
        for item in original.infolist():
            data = original.read(item)
            if item.filename == altered:
                data = data[:-4] + b"\0\0\0\0"
            copy.writestr(item, data)
    with pytest.raises(ValueError, match=f"{altered} is not all-MiniLM-L6-v2's published file"):
        minilm.MiniLM.load(tampered)


def test_without_the_wheel_the_model_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(minilm, "PACKAGE", "no_such_model_package")
    monkeypatch.setattr(minilm, "_model", None)
    assert minilm.archive_path() is None
    with pytest.raises(ModuleNotFoundError, match="--no-deps -r requirements-models.txt"):
        minilm.model()


def test_beside_weighs_the_two_readers_closeness():
    rng = np.random.default_rng(3)
    first = centred(rng.normal(size=(8, 5)))
    second = rng.normal(size=(8, 7))
    joined = beside(first, second, 0.3)
    assert np.allclose(np.linalg.norm(joined, axis=1), 1.0)
    expected = 0.7 * (first @ first.T) + 0.3 * (centred(second) @ centred(second).T)
    assert np.allclose(joined @ joined.T, expected)
    assert beside(first, None) is first


def _answers(texts: list[str]) -> list[AnswerRecord]:
    return [
        AnswerRecord(id=f"a{i}", question_id="q", question="Q?", role="frontline", text=t)
        for i, t in enumerate(texts)
    ]


def test_rounds_the_sentence_encoder_reads_are_also_read_by_the_paraphrase_encoder():
    answers = _answers(["The app logs them out.", "Prices rose for loyal clients."])
    read = _TextSpace.build(answers, sentence_embedder())
    assert read.paraphrase is not None and read.paraphrase.shape == (2, 384)
    # Word vectors read the large rounds, where the paraphrase encoder would cost minutes.
    assert _TextSpace.build(answers, word_embedder()).paraphrase is None


def test_the_archive_is_read_in_memory_not_unpacked(tmp_path: Path, monkeypatch):
    # The zip is read where pip put it; nothing is written beside it or in the cwd.
    monkeypatch.chdir(tmp_path)
    source = minilm.archive_path()
    assert source is not None
    before = sorted(p.name for p in source.parent.iterdir())
    minilm.MiniLM.load(source)
    assert sorted(p.name for p in source.parent.iterdir()) == before
    assert list(tmp_path.iterdir()) == []
    with zipfile.ZipFile(source) as archive:
        assert "model.safetensors" in archive.namelist()


def test_without_the_wheel_themes_are_sorted_by_the_sentence_encoder_alone(monkeypatch):
    import bot.analysis.embeddings as embeddings

    monkeypatch.setattr(embeddings, "has_paraphrase_encoder", lambda: False)
    answers = _answers(["The app logs them out.", "Prices rose for loyal clients."])
    assert _TextSpace.build(answers, sentence_embedder()).paraphrase is None
