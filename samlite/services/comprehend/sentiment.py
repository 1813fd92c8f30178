"""Offline sentiment and language detection behind the Comprehend endpoint.

Sentiment comes from the VADER lexicon model (the `vaderSentiment` package, which ships its
lexicon file, so nothing is downloaded). VADER is an English model: samlite accepts every
LanguageCode that Comprehend accepts but scores all text with the English lexicon (emulator
choice; non-English text mostly comes out NEUTRAL).

Mapping VADER onto Comprehend's four labels. VADER returns `pos`, `neg`, `neu` (the shares of
positive, negative and neutral words, summing to 1) and `compound` c in [-1, 1] (the overall
polarity). From them samlite computes four raw scores:

    Positive = max(c, 0)
    Negative = max(-c, 0)
    Neutral  = (1 - |c|) * neu
    Mixed    = (1 - |c|) * balance * min(1, 2 * (pos + neg))
               where balance = min(pos, neg) / max(pos, neg)   (0 when one side is absent)

so MIXED is strong only when positive and negative words are both present in similar amounts
and cancel out (compound near 0), and NEUTRAL when there is little polarity and mostly neutral
words. Each raw score gets a floor of 0.0001 (Comprehend never answers an exact 0) and the four
are normalised to sum to 1. The label is the highest score. Text without any scorable words is
NEUTRAL. Examples: "I love strawberry cake!" -> POSITIVE (0.83), "I hate chocolate cake!" ->
NEGATIVE (0.79), "Great location, terrible room." -> MIXED (0.57). VADER's "but" rule weighs
the clause after "but" more, so "good food but bad service" comes out NEGATIVE.

Language detection (`DetectDominantLanguage`) is a small heuristic: scripts decide Arabic,
Devanagari (hi), kana (ja), Hangul (ko) and Han (zh / zh-TW by a list of traditional-only
characters); Latin-script text is scored by stop-word hits for en, es, fr, de, it and pt.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

LANGUAGES = ("en", "es", "fr", "de", "it", "pt", "ar", "hi", "ja", "ko", "zh", "zh-TW")
MAX_TEXT_BYTES = 5000
_FLOOR = 1e-4

_analyzer: Any = None
_lock = threading.Lock()


@dataclass(frozen=True)
class Sentiment:
    label: str  # POSITIVE | NEGATIVE | NEUTRAL | MIXED
    positive: float
    negative: float
    neutral: float
    mixed: float

    def to_aws(self) -> dict[str, Any]:
        return {"Sentiment": self.label,
                "SentimentScore": {"Positive": self.positive, "Negative": self.negative,
                                   "Neutral": self.neutral, "Mixed": self.mixed}}


def analyzer() -> Any:
    """The VADER analyzer, loaded once on first use (reading the lexicon takes a few ms)."""
    global _analyzer
    if _analyzer is None:
        with _lock:
            if _analyzer is None:
                from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

                _analyzer = SentimentIntensityAnalyzer()
    return _analyzer


def from_vader(pos: float, neg: float, neu: float, compound: float) -> Sentiment:
    """The documented mapping (module docstring) from VADER's scores to Comprehend's."""
    strength = abs(compound)
    high = max(pos, neg)
    balance = min(pos, neg) / high if high > 0 else 0.0
    raw = {
        "POSITIVE": max(compound, 0.0),
        "NEGATIVE": max(-compound, 0.0),
        "NEUTRAL": (1.0 - strength) * neu,
        "MIXED": (1.0 - strength) * balance * min(1.0, 2.0 * (pos + neg)),
    }
    if sum(raw.values()) <= 0:  # nothing scorable (punctuation, digits): neutral
        raw["NEUTRAL"] = 1.0
    raw = {k: v + _FLOOR for k, v in raw.items()}
    total = sum(raw.values())
    scores = {k: v / total for k, v in raw.items()}
    # Ties go to the less committal label: NEUTRAL, then MIXED.
    order = ("NEUTRAL", "MIXED", "POSITIVE", "NEGATIVE")
    label = max(order, key=lambda k: (scores[k], -order.index(k)))
    return Sentiment(label, scores["POSITIVE"], scores["NEGATIVE"], scores["NEUTRAL"], scores["MIXED"])


def detect_sentiment(text: str) -> Sentiment:
    s = analyzer().polarity_scores(text)
    return from_vader(s["pos"], s["neg"], s["neu"], s["compound"])


# --- language ------------------------------------------------------------------------------
_STOP_WORDS = {
    "en": "the and is are was were of to in that it for on with as at this be by have not you i but "
          "from they we he she or an my your what all can will would there their been love hate",
    "es": "el la los las de que y en un una es por con para no se su al lo como más pero sus le ya "
          "o este sí porque esta entre cuando muy sin sobre también me hasta hay donde quien desde",
    "fr": "le la les de des et est un une du en que qui dans pour pas sur au avec ce il elle ne se "
          "plus par je vous nous sont mais ou son sa ses cette très été être avoir aux",
    "de": "der die das und ist nicht ein eine zu den von mit sich des auf für im dem es an auch "
          "als ich sie er wir ihr sind war wie aber oder wenn noch nach bei sehr",
    "it": "il lo la gli le di e è un una che per non in con del della sono ma come anche più ci "
          "si mi ti questo questa molto era alla nel dei delle sul",
    "pt": "o a os as de e é um uma que do da em para com não se por mais mas como dos das ao "
          "foi são muito também seu sua ele ela isso está você eu",
}
_STOP = {lang: set(words.split()) for lang, words in _STOP_WORDS.items()}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
# Characters used only in traditional Chinese (their simplified forms differ).
_TRADITIONAL = set("們這個來說對時會過還說從點學發東國長門問題體裡與開關電話愛嗎聽見車書實經區應")


def detect_languages(text: str) -> list[dict[str, Any]]:
    """Comprehend's `Languages` list, best first, with scores summing to at most 1."""
    counts = {"ar": 0, "hi": 0, "ja": 0, "ko": 0, "han": 0, "latin": 0}
    traditional = 0
    for ch in text:
        o = ord(ch)
        if 0x0600 <= o <= 0x06FF or 0x0750 <= o <= 0x077F:
            counts["ar"] += 1
        elif 0x0900 <= o <= 0x097F:
            counts["hi"] += 1
        elif 0x3040 <= o <= 0x30FF:
            counts["ja"] += 1
        elif 0xAC00 <= o <= 0xD7AF or 0x1100 <= o <= 0x11FF:
            counts["ko"] += 1
        elif 0x4E00 <= o <= 0x9FFF:
            counts["han"] += 1
            traditional += ch in _TRADITIONAL
        elif ch.isalpha():
            counts["latin"] += 1
    if counts["ja"]:  # kana means Japanese even when mixed with kanji
        counts["ja"] += counts.pop("han")
    else:
        han = counts.pop("han")
        counts["zh-TW" if traditional else "zh"] = han
    latin = counts.pop("latin")
    total = sum(counts.values()) + latin
    if total == 0:
        return [{"LanguageCode": "en", "Score": 0.5}]
    scores: dict[str, float] = {k: v / total for k, v in counts.items() if v}
    if latin:
        share = latin / total
        words = [w.lower() for w in _WORD.findall(text)]
        hits = {lang: sum(w in stop for w in words) for lang, stop in _STOP.items()}
        best = sum(hits.values())
        if best == 0:
            scores["en"] = scores.get("en", 0.0) + share * 0.6  # unknown Latin text: a weak English guess
        else:
            for lang, n in hits.items():
                if n:
                    scores[lang] = scores.get(lang, 0.0) + share * n / best
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    return [{"LanguageCode": lang, "Score": round(score, 4)} for lang, score in ranked if score >= 0.01][:5]
