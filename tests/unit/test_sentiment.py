"""The VADER -> Comprehend mapping and the language heuristic (pure functions, no engine)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from samlite.services.comprehend.sentiment import (
    LANGUAGES,
    detect_languages,
    detect_sentiment,
    from_vader,
)


def _sum(s) -> float:
    return s.positive + s.negative + s.neutral + s.mixed


@pytest.mark.parametrize("text, label", [
    ("I love strawberry cake!", "POSITIVE"),
    ("I hate chocolate cake!", "NEGATIVE"),
    ("The weather is ok.", "NEUTRAL"),
    ("Table.", "NEUTRAL"),
    ("Great location, terrible room.", "MIXED"),
    ("I love it and I hate it.", "MIXED"),
    ("!!! 123", "NEUTRAL"),
])
def test_labels(text: str, label: str) -> None:
    s = detect_sentiment(text)
    assert s.label == label
    assert math.isclose(_sum(s), 1.0, abs_tol=1e-9)
    # The label is the highest score, as Comprehend's is.
    scores = {"POSITIVE": s.positive, "NEGATIVE": s.negative, "NEUTRAL": s.neutral, "MIXED": s.mixed}
    assert scores[label] == max(scores.values())


def test_aws_shape() -> None:
    out = detect_sentiment("I love strawberry cake!").to_aws()
    assert out["Sentiment"] == "POSITIVE"
    assert set(out["SentimentScore"]) == {"Positive", "Negative", "Neutral", "Mixed"}
    assert all(0 < v < 1 for v in out["SentimentScore"].values())


@given(pos=st.floats(0, 1), neg=st.floats(0, 1), compound=st.floats(-1, 1))
def test_mapping_always_a_distribution(pos: float, neg: float, compound: float) -> None:
    if pos + neg > 1:
        pos, neg = pos / (pos + neg), neg / (pos + neg)
    s = from_vader(pos, neg, max(0.0, 1 - pos - neg), compound)
    assert math.isclose(_sum(s), 1.0, abs_tol=1e-9)
    assert min(s.positive, s.negative, s.neutral, s.mixed) > 0
    assert s.label in ("POSITIVE", "NEGATIVE", "NEUTRAL", "MIXED")


def test_strong_compound_wins() -> None:
    assert from_vader(0.6, 0.0, 0.4, 0.9).label == "POSITIVE"
    assert from_vader(0.0, 0.6, 0.4, -0.9).label == "NEGATIVE"
    # balanced and cancelling -> MIXED; nothing polar -> NEUTRAL
    assert from_vader(0.4, 0.4, 0.2, 0.0).label == "MIXED"
    assert from_vader(0.0, 0.0, 0.0, 0.0).label == "NEUTRAL"


@pytest.mark.parametrize("text, lang", [
    ("The quick brown fox jumps over the lazy dog and it was fun", "en"),
    ("Me encanta el pastel de fresa con los amigos", "es"),
    ("Je pense que le gâteau est dans la cuisine avec les enfants", "fr"),
    ("Ich glaube, dass der Kuchen nicht in der Küche ist", "de"),
    ("Mi piace molto la torta con il caffè della nonna", "it"),
    ("Eu gosto muito de bolo com a minha família", "pt"),
    ("مرحبا بالعالم", "ar"),
    ("नमस्ते दुनिया", "hi"),
    ("これは日本語の文章です", "ja"),
    ("안녕하세요 세계", "ko"),
    ("这是一个中文句子", "zh"),
    ("這是我們的中文句子", "zh-TW"),
])
def test_dominant_language(text: str, lang: str) -> None:
    langs = detect_languages(text)
    assert langs[0]["LanguageCode"] == lang
    assert all(item["LanguageCode"] in LANGUAGES for item in langs)
    assert sum(item["Score"] for item in langs) <= 1.0001


def test_language_of_nothing_is_a_weak_guess() -> None:
    langs = detect_languages("12345 !!!")
    assert langs == [{"LanguageCode": "en", "Score": 0.5}]
