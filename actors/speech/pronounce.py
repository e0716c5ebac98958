"""Pronunciations for the recogniser: CMUdict first, eSpeak NG for the rest.

PocketSphinx can only recognise words that have a pronunciation in its
dictionary. The bundled CMU dictionary covers common English, but not every
first name, product or company a workflow may mention ("Priya", "HubSpot").
For those we ask eSpeak NG (already a dependency, as the offline TTS) for its
phonemes and map them onto the ARPAbet phones of the acoustic model; a word
eSpeak cannot help with is reported back so the caller can drop it.

The dictionary we hand to the decoder holds only the words of our language
model: loading 130k entries would cost every call session half a second.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

import pocketsphinx

#: eSpeak NG (en-us) phoneme mnemonics -> ARPAbet phones, matched longest first.
_ESPEAK_TO_ARPABET: dict[str, tuple[str, ...]] = {
    # vowels and diphthongs
    "aI@": ("AY", "ER"),
    "aI3": ("AY", "ER"),
    "aU@": ("AW", "ER"),
    # An r-coloured vowel followed by an explicit r ("v'e@ri@ns") carries one R.
    "i@3r": ("IH", "R"),
    "A@r": ("AA", "R"),
    "e@r": ("EH", "R"),
    "O@r": ("AO", "R"),
    "o@r": ("AO", "R"),
    "U@r": ("UH", "R"),
    "i@3": ("IH", "R"),
    "A@": ("AA", "R"),
    "e@": ("EH", "R"),
    "i@": ("IY", "AH"),
    "O@": ("AO", "R"),
    "o@": ("AO", "R"),
    "U@": ("UH", "R"),
    "aI": ("AY",),
    "aU": ("AW",),
    "eI": ("EY",),
    "OI": ("OY",),
    "oU": ("OW",),
    "A:": ("AA",),
    "O:": ("AO",),
    "i:": ("IY",),
    "u:": ("UW",),
    "3:": ("ER",),
    "a#": ("AH",),
    "aa": ("AE",),
    "@L": ("AH", "L"),
    "@": ("AH",),
    "3": ("ER",),
    "a": ("AE",),
    "A": ("AA",),
    "e": ("EH",),
    "E": ("EH",),
    "i": ("IY",),
    "I": ("IH",),
    "0": ("AA",),
    "O": ("AO",),
    "o": ("OW",),
    "u": ("UW",),
    "U": ("UH",),
    "V": ("AH",),
    # consonants
    "tS": ("CH",),
    "dZ": ("JH",),
    "n-": ("AH", "N"),
    "l-": ("AH", "L"),
    "m-": ("AH", "M"),
    "t#": ("T",),
    "d#": ("D",),
    "hw": ("W",),
    "L": ("AH", "L"),
    "N": ("NG",),
    "S": ("SH",),
    "Z": ("ZH",),
    "T": ("TH",),
    "D": ("DH",),
    "j": ("Y",),
    "x": ("K",),
    "?": ("T",),
    "h": ("HH",),
    **{c: (c.upper(),) for c in "bdfgklmnprstvwz"},
}
_MNEMONICS = sorted(_ESPEAK_TO_ARPABET, key=len, reverse=True)
_WORD_OK = re.compile(r"^[a-z][a-z']*$")


def cmudict_path() -> Path:
    """The CMU dictionary bundled with PocketSphinx."""
    return Path(pocketsphinx.get_model_path("en-us/cmudict-en-us.dict"))


@functools.lru_cache(maxsize=1)
def cmudict() -> dict[str, tuple[str, ...]]:
    """Word -> pronunciations (ARPAbet strings), read once per process (~0.3 s)."""
    entries: dict[str, list[str]] = {}
    with open(cmudict_path(), encoding="utf-8") as handle:
        for line in handle:
            word, _, phones = line.strip().partition(" ")
            if not phones:
                continue
            base = word.split("(", 1)[0]
            # Some entries carry a trailing comment ("word P H # foreign").
            entries.setdefault(base, []).append(phones.split("#", 1)[0].strip())
    return {word: tuple(prons) for word, prons in entries.items()}


def espeak_to_arpabet(phonemes: str) -> list[str]:
    """Map one word of `espeak-ng -x` output to ARPAbet phones.

    Stress and length marks (' , % = _ ; and unmatched : # - digits) carry no
    phone of their own and are skipped.
    """
    phones: list[str] = []
    i = 0
    while i < len(phonemes):
        for mnemonic in _MNEMONICS:
            if phonemes.startswith(mnemonic, i):
                phones.extend(_ESPEAK_TO_ARPABET[mnemonic])
                i += len(mnemonic)
                break
        else:
            i += 1
    return phones


def espeak_pronunciations(words: Iterable[str], *, voice: str = "en-us") -> dict[str, str]:
    """Ask eSpeak NG for the pronunciation of each word (one process for all of them)."""
    words = [w for w in dict.fromkeys(words) if _WORD_OK.match(w)]
    binary = shutil.which("espeak-ng")
    if not words or binary is None:
        return {}
    # One word per line, each closed by a full stop, gives one line of phonemes
    # per word. Text goes through stdin: nothing in it is read as an option.
    text = "".join(f"{w.replace(chr(39), '')}.\n" for w in words)
    result = subprocess.run(
        [binary, "-q", "-x", "-v", voice, "--stdin"],
        input=text.encode(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    lines = result.stdout.decode(errors="replace").splitlines()
    if result.returncode != 0 or len(lines) != len(words):
        return {}
    found = {}
    for word, line in zip(words, lines, strict=True):
        phones = espeak_to_arpabet(line.strip())
        if phones:
            found[word] = " ".join(phones)
    return found


def pronunciations(words: Iterable[str]) -> tuple[dict[str, tuple[str, ...]], list[str]]:
    """Pronunciations for `words`: (found, words no source could pronounce)."""
    lexicon = cmudict()
    found: dict[str, tuple[str, ...]] = {}
    missing: list[str] = []
    for word in dict.fromkeys(words):
        if word in lexicon:
            found[word] = lexicon[word]
        else:
            missing.append(word)
    guessed = espeak_pronunciations(missing)
    for word, phones in guessed.items():
        found[word] = (phones,)
    return found, [w for w in missing if w not in guessed]


#: ARPAbet vowels (the consonants are the other phones of the en-us model).
VOWELS = frozenset(
    {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"}
)


#: Number words whose initial /s/ the acoustic model often misses on a phone line,
#: heard as "quickly" for "sixty", "monday" for "seventy". "six" is left out:
#: without its /s/ it is "it's" (measured: "it's my decision" came out as a number).
ONSET_CLIPPED = frozenset({"seven", "sixteen", "seventeen", "sixty", "seventy"})


def narrowband_variants(word: str, prons: Iterable[str]) -> tuple[str, ...]:
    """`word`'s pronunciations `prons` plus the forms heard on an 8 kHz phone line.

    A phone line stops at 4 kHz, and most of the energy of /s/ and /z/ lies
    above it; our estimate of the missing band (`features`) does not bring a
    weak sibilant back. So the acoustic model hears "three month" or "three one"
    for "three months", "a week" for "eight weeks", "monday" for "seventy".
    With the clipped forms in the dictionary as well, the language model tells
    the words apart by their context:

    - a final /s/ or /z/ after a consonant is also dropped ("months" M AH N TH,
      "weeks" W IY K). Dropping every final sibilant, also after vowels, or final
      /f/, /th/, /sh/ and /v/ too, measured no better and added more words.
    - the initial /s/ of the number words in `ONSET_CLIPPED` is dropped.

    Measured with `load_tests/bench_recognition.py` (our own phrasings at 8 kHz):
    timelines read right went from 13 to 23 of 30 and the word error rate from
    38 % to 33 % with the first rule; the second took budgets read right from 10
    to 12 of 15, with no answer lost.
    """
    prons = tuple(dict.fromkeys(prons))
    clipped = []
    for pron in prons:
        phones = pron.split()
        if len(phones) >= 3 and phones[-1] in ("S", "Z") and phones[-2] not in VOWELS:
            clipped.append(" ".join(phones[:-1]))
        if word in ONSET_CLIPPED and phones[0] == "S" and len(phones) > 2:
            clipped.append(" ".join(phones[1:]))
    return prons + tuple(c for c in dict.fromkeys(clipped) if c not in prons)


def write_dictionary(path: Path, entries: dict[str, tuple[str, ...]]) -> None:
    """Write a PocketSphinx dictionary: `word PH ONES`, alternates as `word(2)`."""
    with open(path, "w", encoding="utf-8") as handle:
        for word in sorted(entries):
            for index, phones in enumerate(entries[word], start=1):
                name = word if index == 1 else f"{word}({index})"
                handle.write(f"{name} {phones}\n")
