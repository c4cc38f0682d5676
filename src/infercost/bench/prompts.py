"""Synthetic prompts of a target token length, without a tokenizer.

The approximation: prompts are built from `VOCABULARY`, short common lower-case English words that
BPE tokenizers (Llama 3, GPT-4's cl100k, Qwen, Mistral) keep whole, so each word with its leading
space is about one token, and every sentence ends with a full stop, one more token. So
`approx_tokens(text)` = words + full stops, and a prompt asked for N tokens has exactly N under that
count (`WORDS_PER_TOKEN` = 1). Real counts differ by a few per cent; the load generator records
the server's own `usage.prompt_tokens` whenever the server reports it. Chat templates add their
own tokens on top.

Every prompt is seeded by (seed, request index), so a run is reproducible; prompts differ from each
other right after the shared prefix, which is reused verbatim, so only the prefix can be a
prefix-cache hit. Multi-turn conversations append each answer and a fresh user message of the
target length to the context, so the prompt grows turn by turn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from infercost.bench.config import BenchConfig

WORDS_PER_TOKEN = 1.0
SENTENCE_WORDS = 11  # words before each full stop: 12 tokens a sentence

VOCABULARY = tuple(
    [
        "the",
        "of",
        "and",
        "to",
        "in",
        "is",
        "it",
        "you",
        "that",
        "he",
        "was",
        "for",
        "on",
        "are",
        "as",
        "with",
        "his",
        "they",
        "at",
        "be",
        "this",
        "have",
        "from",
        "or",
        "one",
        "had",
        "by",
        "word",
        "but",
        "not",
        "what",
        "all",
        "were",
        "we",
        "when",
        "your",
        "can",
        "said",
        "there",
        "use",
        "an",
        "each",
        "which",
        "she",
        "do",
        "how",
        "their",
        "if",
        "will",
        "up",
        "other",
        "about",
        "out",
        "many",
        "then",
        "them",
        "these",
        "so",
        "some",
        "her",
        "would",
        "make",
        "like",
        "him",
        "into",
        "time",
        "has",
        "look",
        "two",
        "more",
        "write",
        "go",
        "see",
        "number",
        "no",
        "way",
        "could",
        "people",
        "my",
        "than",
        "first",
        "water",
        "been",
        "call",
        "who",
        "oil",
        "its",
        "now",
        "find",
        "long",
        "down",
        "day",
        "did",
        "get",
        "come",
        "made",
        "may",
        "part",
        "over",
        "new",
        "sound",
        "take",
        "only",
        "little",
        "work",
        "know",
        "place",
        "year",
        "live",
        "me",
        "back",
        "give",
        "most",
        "very",
        "after",
        "thing",
        "our",
        "just",
        "name",
        "good",
        "sentence",
        "man",
        "think",
        "say",
        "great",
        "where",
        "help",
        "through",
        "much",
        "before",
        "line",
        "right",
        "too",
        "mean",
        "old",
        "any",
        "same",
        "tell",
        "boy",
        "follow",
        "came",
        "want",
        "show",
        "also",
        "around",
        "form",
        "three",
        "small",
        "set",
        "put",
        "end",
        "does",
        "another",
        "well",
        "large",
        "must",
        "big",
        "even",
        "such",
        "because",
        "turn",
        "here",
        "why",
        "ask",
        "went",
        "men",
        "read",
        "need",
        "land",
        "different",
        "home",
        "us",
        "move",
        "try",
        "kind",
        "hand",
        "picture",
        "again",
        "change",
        "off",
        "play",
        "spell",
        "air",
        "away",
        "animal",
        "house",
        "point",
        "page",
        "letter",
    ]
)

_TOKEN = re.compile(r"[A-Za-z0-9']+|[^\sA-Za-z0-9']")


def approx_tokens(text: str) -> int:
    """Tokens in `text` under the documented approximation: words plus punctuation marks."""
    return round(len(_TOKEN.findall(text)) / WORDS_PER_TOKEN)


def synthetic_text(tokens: int, rng: np.random.Generator) -> str:
    """Random sentences of `tokens` tokens under `approx_tokens`."""
    if tokens <= 0:
        return ""
    picks = rng.integers(0, len(VOCABULARY), size=tokens)
    parts: list[str] = []
    in_sentence = 0
    for i, pick in enumerate(picks):
        last = i == tokens - 1
        if in_sentence == SENTENCE_WORDS and not last:
            parts.append(".")
            in_sentence = 0
            continue
        parts.append(VOCABULARY[int(pick)])
        in_sentence += 1
    text = " ".join(parts)
    return text.replace(" .", ".")


def shared_prefix(tokens: int, seed: int) -> str:
    """The prefix every request of a run starts with (the same for a seed)."""
    return synthetic_text(tokens, np.random.default_rng([seed, 0x5EED]))


@dataclass
class Conversation:
    """One user's requests: a single prompt, or `turns` turns over a growing context."""

    index: int
    turns: int
    system: str
    first_user: str
    history: list[tuple[str, str]] = field(default_factory=list)  # (role, text)
    turn: int = 0
    _rng: np.random.Generator | None = None

    def next_user_message(self, tokens: int) -> str:
        if self.turn == 0:
            return self.first_user
        if self._rng is None:
            self._rng = np.random.default_rng([self.index, 0xC0DE])
        return synthetic_text(tokens, self._rng)

    def messages(self, user: str) -> list[dict[str, str]]:
        """Chat messages for the next turn: the shared prefix as the system message, the turns so
        far, then `user`."""
        msgs = [{"role": "system", "content": self.system}] if self.system else []
        msgs += [{"role": role, "content": text} for role, text in self.history]
        msgs.append({"role": "user", "content": user})
        return msgs

    def prompt(self, user: str) -> str:
        """The same context as one completion prompt: prefix, earlier turns and answers, `user`."""
        pieces = [self.system] if self.system else []
        pieces += [text for _, text in self.history]
        pieces.append(user)
        return " ".join(pieces)

    def record(self, user: str, answer: str) -> None:
        self.history += [("user", user), ("assistant", answer)]
        self.turn += 1

    @property
    def done(self) -> bool:
        return self.turn >= self.turns


def conversation(config: BenchConfig, index: int, level: int = 0) -> Conversation:
    """Conversation `index` of level `level`: the shared prefix, then `prompt_tokens` − prefix tokens
    of its own text (seeded by seed, level and index)."""
    rng = np.random.default_rng([config.seed, level, index])
    own = config.prompt_tokens - config.shared_prefix_tokens
    return Conversation(
        index=index,
        turns=config.turns,
        system=shared_prefix(config.shared_prefix_tokens, config.seed),
        first_user=synthetic_text(own, rng),
        _rng=np.random.default_rng([config.seed, level, index, 1]),
    )
