"""Intent recognition: what a driver's sentence asks, from keywords and synonyms kept as data."""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

import jieba
from pypinyin import lazy_pinyin

from core.plates import Plate, find_plates

DEFAULT_INTENTS = Path(__file__).resolve().parents[1] / "config" / "bot_intents.toml"
# Sounding the same is weaker evidence than being spelt the same.
HOMOPHONE_WEIGHT = 0.9
_DROPPED = re.compile(
    r"[\s,.!;:~'\"()\[\]{}<>@#$%^&*+=|\\/，。！；：、…～“”‘’（）【】《》「」·\-_]+"
)

jieba.setLogLevel(60)  # jieba logs its dictionary loading at INFO; say nothing


class Intent(StrEnum):
    """What a message asks for."""

    FIND_PARKING = "find_parking"
    CURRENT_STAY = "current_stay"
    ARREARS = "arrears"
    BIND_PLATE = "bind_plate"
    INVOICE = "invoice"
    TARIFF = "tariff"
    PASS = "pass"
    HUMAN = "human"
    GREETING = "greeting"
    PLATE_ONLY = "plate_only"  # a bare plate: what it owes, as before the bot could talk
    FALLBACK = "fallback"


class IntentBookError(Exception):
    """The intents file is not usable; the message names the entry."""


@dataclass(frozen=True, slots=True)
class IntentRule:
    """One intent's keywords and its priority on a tie."""

    intent: Intent
    priority: int
    keywords: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class IntentBook:
    """The data the recogniser reads: rules, synonyms, words and mini-program pages."""

    rules: tuple[IntentRule, ...]
    synonyms: Mapping[str, str]
    here_words: tuple[str, ...]
    stop_words: frozenset[str]
    yes_words: frozenset[str]
    complaint_words: tuple[str, ...]
    zone_classes: Mapping[str, int]
    pages: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Recognition:
    """What a sentence asks, the plates in it and the words left to name a place."""

    intent: Intent
    score: float
    plates: tuple[Plate, ...] = ()
    text: str = ""  # folded sentence without the plates
    place_query: str = ""  # what is left once keywords and filler words are gone
    here: bool = False  # "这里": the last location or place
    zone_class: int | None = None
    matched: tuple[str, ...] = field(default=())


def load_book(path: Path | str = DEFAULT_INTENTS) -> IntentBook:
    """Read and check an intents file."""
    with Path(path).open("rb") as handle:
        return book_from(tomllib.load(handle))


def book_from(data: Mapping[str, Any]) -> IntentBook:
    """An intent book from parsed TOML, or IntentBookError naming the bad entry."""
    synonyms = {fold(k): fold(v) for k, v in dict(data.get("synonyms", {})).items()}
    # longest first, so "几块钱" is replaced before "几块"
    synonyms = dict(sorted(synonyms.items(), key=lambda kv: -len(kv[0])))
    rules = []
    for name, body in dict(data.get("intents", {})).items():
        try:
            intent = Intent(name)
        except ValueError:
            raise IntentBookError(f"intents.{name}: unknown intent") from None
        keywords = tuple(
            dict.fromkeys(replace_synonyms(fold(k), synonyms) for k in body.get("keywords", []))
        )
        keywords = tuple(k for k in keywords if k)
        if not keywords:
            raise IntentBookError(f"intents.{name}: no keywords")
        rules.append(IntentRule(intent, int(body.get("priority", 0)), keywords))
    words = dict(data.get("words", {}))
    return IntentBook(
        rules=tuple(sorted(rules, key=lambda r: -r.priority)),
        synonyms=synonyms,
        here_words=tuple(sorted((fold(w) for w in words.get("here", [])), key=len, reverse=True)),
        stop_words=frozenset(fold(w) for w in words.get("stop", [])),
        yes_words=frozenset(fold(w) for w in words.get("yes", [])),
        complaint_words=tuple(fold(w) for w in words.get("complaint", [])),
        zone_classes={fold(k): int(v) for k, v in dict(data.get("zone_classes", {})).items()},
        pages=dict(data.get("pages", {})),
    )


def fold(text: str) -> str:
    """Full-width to half-width, lower case, no spaces or punctuation (a "?" stays)."""
    return _DROPPED.sub("", unicodedata.normalize("NFKC", text).lower())


def replace_synonyms(text: str, synonyms: Mapping[str, str]) -> str:
    """The text with each variant replaced by its canonical form (longest variants first)."""
    for variant, canonical in synonyms.items():
        if variant in text:
            text = text.replace(variant, canonical)
    return text


@lru_cache(maxsize=4096)
def syllables(text: str) -> tuple[str, ...]:
    """The pinyin of each character without tones (other characters as they are)."""
    keep: Any = list  # pypinyin keeps each non-Chinese character as its own syllable
    return tuple(lazy_pinyin(text, errors=keep))


def _contains_run(haystack: tuple[str, ...], needle: tuple[str, ...]) -> bool:
    n = len(needle)
    return any(haystack[i : i + n] == needle for i in range(len(haystack) - n + 1))


@lru_cache(maxsize=1)
def _base_dictionary() -> tuple[dict[str, int], int]:
    """jieba's dictionary, loaded once per process (about half a second)."""
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return dict(tokenizer.FREQ), int(tokenizer.total)


def _fresh_tokenizer() -> Any:
    """A segmenter of its own (words added to it stay its own) on the shared dictionary."""
    freq, total = _base_dictionary()
    tokenizer = jieba.Tokenizer()
    tokenizer.FREQ, tokenizer.total, tokenizer.initialized = dict(freq), total, True
    return tokenizer


class Recogniser:
    """Finds the intent of a sentence; jieba splits what is left into a place name."""

    def __init__(self, book: IntentBook, place_words: Iterable[str] = ()) -> None:
        self.book = book
        self._tokenizer = _fresh_tokenizer()
        self._keywords = {k for rule in book.rules for k in rule.keywords}
        for word in [*self._keywords, *book.here_words, *place_words]:
            self._tokenizer.add_word(word, freq=50_000)

    def add_place_words(self, words: Iterable[str]) -> None:
        """Teach the segmenter place names so they stay whole."""
        for word in words:
            self._tokenizer.add_word(fold(word), freq=50_000)

    def recognise(self, message: str) -> Recognition:
        """The intent of one text message."""
        finding = find_plates(message)
        text = replace_synonyms(fold(finding.rest), self.book.synonyms)
        here = any(word in text for word in self.book.here_words)
        zone_class = next((c for word, c in self.book.zone_classes.items() if word in text), None)
        intent, score, matched = self._best(text)
        if finding.plates and not text.strip("?"):
            intent, score = Intent.PLATE_ONLY, 1.0
        return Recognition(
            intent=intent,
            score=score,
            plates=finding.plates,
            text=text,
            place_query=self._place_query(text),
            here=here,
            zone_class=zone_class,
            matched=matched,
        )

    def _best(self, text: str) -> tuple[Intent, float, tuple[str, ...]]:
        best: tuple[float, int, Intent, tuple[str, ...]] = (0.0, 0, Intent.FALLBACK, ())
        sounds = syllables(text) if text else ()
        for rule in self.book.rules:
            scores = [(self._score(k, text, sounds), k) for k in rule.keywords]
            hits = [(s, k) for s, k in scores if s > 0]
            if not hits:
                continue
            top = max(s for s, _ in hits)
            # the best keyword decides; every further one adds a little (附近 + 停车位)
            total = top + 0.1 * (len(hits) - 1)
            if (total, rule.priority) > best[:2]:
                best = (total, rule.priority, rule.intent, tuple(k for _, k in hits))
        return best[2], best[0], best[3]

    @staticmethod
    def _score(keyword: str, text: str, sounds: tuple[str, ...]) -> float:
        if keyword in text:
            return float(len(keyword))
        if len(keyword) >= 2 and _contains_run(sounds, syllables(keyword)):
            return HOMOPHONE_WEIGHT * len(keyword)
        return 0.0

    def _place_query(self, text: str) -> str:
        """The words of a sentence that are neither keywords nor filler: a place, perhaps."""
        dropped = self._keywords | self.book.stop_words | set(self.book.here_words)
        kept = [
            t
            for t in self._tokenizer.lcut(text)
            # one character left over is a fragment of a keyword, not a place
            if t not in dropped and len(t) > 1 and not t.isdigit()
        ]
        return "".join(kept)
