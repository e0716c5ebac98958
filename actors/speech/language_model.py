"""The language model that steers PocketSphinx on calls: a trigram, built here.

PocketSphinx with its general English model mishears most phone answers (4 in 5
words wrong on band-limited call audio). A small domain model fixes most of
that: it is trained on the workflow's own prompts (what the agents ask, whose
words callers echo) and on `corpus.general_answers()` (what callers answer).

The model is an interpolated modified Kneser-Ney trigram (Chen & Goodman 1998),
written out in ARPA backoff form: for a seen n-gram the stored probability is the
interpolated one, and the back-off weight of a history is the mass its discounts
freed, so every distribution sums to one. Its unigrams are mixed with a little
of a general English unigram distribution (read from the LM bundled with
PocketSphinx), so a word outside the templates can still be recognised, if
reluctantly.

Building takes a few seconds of pure Python, so the result — the ARPA file and a
dictionary holding only its words — is cached on disk under a key that hashes
the corpus; later actors in the same machine load it in milliseconds.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pocketsphinx
from loguru import logger

from actors.speech.corpus import CORPUS_VERSION, DATA_FILES, general_answers
from actors.speech.pronounce import (
    cmudict,
    narrowband_variants,
    pronunciations,
    write_dictionary,
)
from actors.speech.spoken import split_sentences, spoken_words

#: Bump when the estimator or file layout changes.
BUILDER_VERSION = 2
BOS, EOS = "<s>", "</s>"
#: Share of unigram mass given to general English words (swept 0.001-0.5 on our
#: development phrasings: 0.15-0.3 is best; callers do stray from the templates).
BACKGROUND_WEIGHT = 0.2
#: How many of the most frequent general English words take part.
BACKGROUND_WORDS = 4000
#: Environment variable that moves the cache (default: ~/.cache/switchboard/speech).
CACHE_DIR_ENV = "SWITCHBOARD_SPEECH_CACHE_DIR"

_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


@dataclass(frozen=True)
class LanguageModel:
    """Files for a PocketSphinx decoder, and how they came to be."""

    lm_path: Path
    dict_path: Path
    key: str
    vocabulary: int
    ngram_counts: tuple[int, int, int]
    dropped_words: tuple[str, ...]
    built: bool
    seconds: float


def default_cache_dir() -> Path:
    """Where built models are kept between processes."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "switchboard" / "speech"


def prompt_sentences(prompts: Iterable[str]) -> list[list[str]]:
    """The workflow's prompts as spoken-word sentences.

    `{placeholders}` of prompt templates are cut out (they split the sentence:
    we do not know what words fill them).
    """
    sentences = []
    for prompt in prompts:
        for piece in _PLACEHOLDER.split(prompt):
            for sentence in split_sentences(piece):
                words = spoken_words(sentence)
                if words:
                    sentences.append(words)
    return sentences


def corpus(prompts: Iterable[str]) -> list[list[str]]:
    """Everything the model is trained on: prompts first, then the general answers."""
    return prompt_sentences(prompts) + [s.split() for s in general_answers()]


def _split_at(sentences: Iterable[Sequence[str]], unknown: set[str]) -> list[list[str]]:
    """Cut sentences at words we cannot pronounce, so no n-gram spans the gap."""
    pieces: list[list[str]] = []
    for sentence in sentences:
        current: list[str] = []
        for word in sentence:
            if word in unknown:
                if current:
                    pieces.append(current)
                current = []
            else:
                current.append(word)
        if current:
            pieces.append(current)
    return pieces


# ---------------------------------------------------------------------------
# Estimation
# ---------------------------------------------------------------------------


def _discounts(counts: Iterable[int]) -> tuple[float, float, float]:
    """Modified Kneser-Ney discounts D1, D2, D3+ from counts-of-counts."""
    n = Counter(min(c, 4) for c in counts)
    n1, n2, n3, n4 = (n.get(i, 0) for i in (1, 2, 3, 4))
    if not (n1 and n2 and n3 and n4):
        # Too little data for the estimate: a plain absolute discount.
        return 0.5, 0.75, 0.9
    y = n1 / (n1 + 2 * n2)
    d1 = 1 - 2 * y * n2 / n1
    d2 = 2 - 3 * y * n3 / n2
    d3 = 3 - 4 * y * n4 / n3
    # Keep each discount inside (0, c) so no seen n-gram loses all its mass.
    return (min(max(d1, 0.05), 0.95), min(max(d2, 0.1), 1.9), min(max(d3, 0.1), 2.9))


def _discount(count: int, d: tuple[float, float, float]) -> float:
    return d[0] if count == 1 else d[1] if count == 2 else d[2]


def _level(
    counts: dict[tuple[str, ...], int], d: tuple[float, float, float]
) -> tuple[dict[tuple[str, ...], float], dict[tuple[str, ...], float]]:
    """Discounted relative frequencies of one order, and each history's freed mass."""
    totals: dict[tuple[str, ...], int] = defaultdict(int)
    freed: dict[tuple[str, ...], float] = defaultdict(float)
    for gram, count in counts.items():
        history = gram[:-1]
        totals[history] += count
        freed[history] += _discount(count, d)
    discounted = {
        gram: (count - _discount(count, d)) / totals[gram[:-1]] for gram, count in counts.items()
    }
    gamma = {history: freed[history] / totals[history] for history in totals}
    return discounted, gamma


def build_arpa(
    sentences: Iterable[Sequence[str]],
    *,
    background: dict[str, float] | None = None,
    background_weight: float = BACKGROUND_WEIGHT,
) -> tuple[str, tuple[int, int, int]]:
    """An interpolated modified Kneser-Ney trigram in ARPA format.

    `background` maps extra words to probabilities (summing to one); they are
    mixed into the unigrams with `background_weight`. Returns the ARPA text and
    the number of 1-, 2- and 3-grams.
    """
    c3: Counter[tuple[str, str, str]] = Counter()
    c2_bos: Counter[tuple[str, str]] = Counter()
    for sentence in sentences:
        if not sentence:
            continue
        padded = [BOS, *sentence, EOS]
        c2_bos[(BOS, padded[1])] += 1
        for i in range(len(padded) - 2):
            c3[(padded[i], padded[i + 1], padded[i + 2])] += 1
    # Lower orders use continuation counts (how many distinct words precede),
    # except n-grams that start at <s>, which nothing can precede.
    c2: Counter[tuple[str, str]] = Counter()
    for _u, v, w in c3:
        c2[(v, w)] += 1
    c2.update(c2_bos)
    c1: Counter[tuple[str]] = Counter()
    for _v, w in c2:
        c1[(w,)] += 1

    disc1, gamma0 = _level(c1, _discounts(c1.values()))
    disc2, gamma1 = _level(c2, _discounts(c2.values()))
    disc3, gamma2 = _level(c3, _discounts(c3.values()))

    # Unigrams: discounted continuation frequencies interpolated with a uniform
    # distribution, then mixed with general English.
    words = {w for (w,) in c1} | set(background or {})
    words.discard(BOS)
    uniform = 1.0 / len(words)
    g0 = gamma0.get((), 0.0)
    p1 = {w: disc1.get((w,), 0.0) + g0 * uniform for w in words}
    if background:
        p1 = {
            w: (1 - background_weight) * p + background_weight * background.get(w, 0.0)
            for w, p in p1.items()
        }

    def p2(v: str, w: str) -> float:
        # A history never seen before anything backs off to the unigrams whole.
        return disc2.get((v, w), 0.0) + gamma1.get((v,), 1.0) * p1[w]

    p3 = {gram: disc3[gram] + gamma2[gram[:2]] * p2(gram[1], gram[2]) for gram in c3}
    p2_seen = {gram: p2(*gram) for gram in c2}

    def log10(x: float) -> str:
        return f"{math.log10(x):.6f}"

    lines = [
        "\\data\\",
        f"ngram 1={len(words) + 1}",
        f"ngram 2={len(p2_seen)}",
        f"ngram 3={len(p3)}",
        "",
        "\\1-grams:",
        f"-99.000000\t{BOS}\t{log10(gamma1[(BOS,)])}",
    ]
    for w in sorted(words):
        bow = gamma1.get((w,))
        lines.append(f"{log10(p1[w])}\t{w}" + (f"\t{log10(bow)}" if bow else ""))
    lines += ["", "\\2-grams:"]
    for (v, w), p in sorted(p2_seen.items()):
        bow = gamma2.get((v, w))
        lines.append(f"{log10(p)}\t{v} {w}" + (f"\t{log10(bow)}" if bow else ""))
    lines += ["", "\\3-grams:"]
    for (u, v, w), p in sorted(p3.items()):
        lines.append(f"{log10(p)}\t{u} {v} {w}")
    lines += ["", "\\end\\", ""]
    return "\n".join(lines), (len(words) + 1, len(p2_seen), len(p3))


@lru_cache(maxsize=1)
def background_unigrams(size: int = BACKGROUND_WORDS) -> dict[str, float]:
    """The `size` most frequent CMUdict words of PocketSphinx's general English LM."""
    general = pocketsphinx.NGramModel(
        pocketsphinx.Config(),
        pocketsphinx.LogMath(1.0001),
        pocketsphinx.get_model_path("en-us/en-us.lm.bin"),
    )
    log_base = math.log(1.0001)
    scored = []
    for word in cmudict():
        if not re.fullmatch(r"[a-z]+(?:'[a-z]+)*", word):
            continue
        score = general.prob([word])
        if score > -400_000:  # unknown words come back as a huge negative number
            scored.append((score, word))
    scored.sort(reverse=True)
    top = {word: math.exp(score * log_base) for score, word in scored[:size]}
    total = sum(top.values())
    return {word: p / total for word, p in top.items()}


# ---------------------------------------------------------------------------
# Cache
# ---------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _generator_digest() -> str:
    """Hash of the code and the grammar that generate the general corpus and the model.

    The general answers are a pure function of these sources, so hashing them
    stands for hashing the ~80k generated sentences, without generating them
    (half a second) on every actor start.
    """
    digest = hashlib.sha256(
        f"v{BUILDER_VERSION}.{CORPUS_VERSION}.{BACKGROUND_WORDS}.{BACKGROUND_WEIGHT}\n".encode()
    )
    here = Path(__file__).parent
    for name in ("corpus.py", "spoken.py", "pronounce.py", "language_model.py"):
        digest.update((here / name).read_bytes())
    for path in DATA_FILES:
        digest.update(path.read_bytes())
    digest.update(pocketsphinx.__file__.encode())
    digest.update(str(BACKGROUND_WEIGHT).encode())
    return digest.hexdigest()


def corpus_key(prompts: Iterable[str]) -> str:
    """Cache key: the prompts' sentences plus the code that makes the rest of the corpus."""
    digest = hashlib.sha256(_generator_digest().encode())
    for sentence in prompt_sentences(prompts):
        digest.update(" ".join(sentence).encode())
        digest.update(b"\n")
    return digest.hexdigest()[:24]


def _write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so concurrent actors never read half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; other workers may run as other users
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def language_model(prompts: Iterable[str] = (), *, cache_dir: Path | None = None) -> LanguageModel:
    """Build — or find in the cache — the language model and dictionary for `prompts`."""
    started = time.perf_counter()
    prompts = list(prompts)
    key = corpus_key(prompts)
    folder = (cache_dir or default_cache_dir()) / key
    lm_path, dict_path, meta_path = folder / "lm.arpa", folder / "words.dict", folder / "meta"
    if lm_path.exists() and dict_path.exists() and meta_path.exists():
        vocabulary, n1, n2, n3, *dropped = meta_path.read_text().split()
        return LanguageModel(
            lm_path=lm_path,
            dict_path=dict_path,
            key=key,
            vocabulary=int(vocabulary),
            ngram_counts=(int(n1), int(n2), int(n3)),
            dropped_words=tuple(dropped),
            built=False,
            seconds=time.perf_counter() - started,
        )

    folder.mkdir(parents=True, exist_ok=True)
    sentences = corpus(prompts)
    vocabulary = {w for s in sentences for w in s}
    background = background_unigrams()
    lexicon, unknown = pronunciations(vocabulary | set(background))
    if unknown:
        logger.info(f"speech LM: no pronunciation for {len(unknown)} words, dropped: {unknown}")
    background = {w: p for w, p in background.items() if w in lexicon}
    total = sum(background.values())
    background = {w: p / total for w, p in background.items()}
    arpa, counts = build_arpa(_split_at(sentences, set(unknown)), background=background)
    entries = {
        w: narrowband_variants(w, lexicon[w]) for w in vocabulary | set(background) if w in lexicon
    }

    _write_atomic(lm_path, arpa)
    tmp_dict = folder / f"words.dict.{os.getpid()}.tmp"
    write_dictionary(tmp_dict, entries)
    os.replace(tmp_dict, dict_path)
    # meta last: its presence says the other two files are complete.
    _write_atomic(meta_path, " ".join(map(str, (len(entries), *counts, *unknown))))
    seconds = time.perf_counter() - started
    logger.info(
        f"speech LM {key}: {len(entries)} words, n-grams {counts}, built in {seconds:.1f} s"
    )
    return LanguageModel(
        lm_path=lm_path,
        dict_path=dict_path,
        key=key,
        vocabulary=len(entries),
        ngram_counts=counts,
        dropped_words=tuple(unknown),
        built=True,
        seconds=seconds,
    )
