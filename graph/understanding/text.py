"""Normalisation of caller lines, typed or from a speech recogniser.

Owns one job: turning whatever a caller's words look like ("$75k", "I'm the C.E.O.",
"dont call me", "twenty-five", "9:30am") into one lowercase, space-separated form the
readers in `graph/understanding/` match against, split into sentences that keep the caller's own
wording for anything we repeat back or store (the stated need).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'",
                         "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": " - "})

# Contractions whose stem changes; the regular "n't" is handled by a rule.
_IRREGULAR = {
    "won't": "will not", "can't": "can not", "cannot": "can not", "shan't": "shall not",
    "ain't": "is not", "let's": "let us", "y'all": "you all", "o'clock": "oclock",
}

# Recognisers and hurried typists drop apostrophes; only forms that are not also
# ordinary words are expanded ("its", "ill", "were", "well" stay as they are).
_BARE = {
    "dont": "do not", "doesnt": "does not", "didnt": "did not", "cant": "can not",
    "wont": "will not", "isnt": "is not", "arent": "are not", "wasnt": "was not",
    "werent": "were not", "havent": "have not", "hasnt": "has not", "hadnt": "had not",
    "wouldnt": "would not", "couldnt": "could not", "shouldnt": "should not",
    "im": "i am", "ive": "i have", "youre": "you are", "theyre": "they are",
    "thats": "that is", "whats": "what is", "theres": "there is", "lets": "let us",
    "gonna": "going to", "wanna": "want to", "gotta": "got to", "kinda": "kind of",
    "sorta": "sort of", "lemme": "let me", "gimme": "give me", "dunno": "do not know",
    "ok": "okay", "okey": "okay", "alright": "all right", "anytime": "any time",
    "noone": "no one", "everyday": "every day", "cofounder": "co founder",
    "voicemail": "voice mail", "thru": "through", "tho": "though", "pls": "please",
    "plz": "please", "thx": "thanks", "yrs": "years", "mins": "minutes", "hrs": "hours",
}

# "'s" is "is"/"has" after these words and after anything when a determiner,
# pronoun or adverb follows; otherwise it is a possessive and is dropped.
_S_IS_AFTER = (
    "it|that|what|who|where|there|here|he|she|how|when|why|this|everything|nothing|"
    "something|someone|somebody|name|decision|call|budget|price|timing|problem|issue|"
    "monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|tomorrow|tonight|"
    "morning|afternoon|evening|week|weekend"
)
_S_IS_BEFORE = (
    "mine|yours|ours|theirs|his|hers|not|up|on|in|my|our|a|an|the|going|been|too|very|"
    "really|pretty|fine|good|great|done|all|over|about|just|always|never|totally|entirely|no"
)

# Letter-by-letter spellings a recogniser emits ("c e o", "a s a p") joined back.
_SPELLED = frozenset({
    "asap", "ceo", "cfo", "coo", "cto", "cmo", "cio", "cro", "vp", "svp", "evp", "hr",
    "usd", "crm", "dnc", "am", "pm", "it",
})

_CURRENCY_SCALE = {"k": "thousand", "m": "million", "mm": "million", "mil": "million",
                   "b": "billion", "bn": "billion"}


@dataclass(frozen=True)
class Sentence:
    """One sentence of a caller line: the words as said and their normal form."""

    raw: str
    text: str

    @property
    def tokens(self) -> list[str]:
        return self.text.split()


def _expand_contractions(text: str) -> str:
    for short, long in _IRREGULAR.items():
        text = re.sub(rf"\b{re.escape(short)}\b", long, text)
    text = re.sub(r"n't\b", " not", text)
    text = re.sub(rf"\b({_S_IS_AFTER})'s\b", r"\1 is", text)
    text = re.sub(rf"\b(\w+)'s (?=(?:{_S_IS_BEFORE})\b)", r"\1 is ", text)
    text = re.sub(r"'s\b", "", text)
    text = re.sub(r"'m\b", " am", text)
    text = re.sub(r"'re\b", " are", text)
    text = re.sub(r"'ve\b", " have", text)
    text = re.sub(r"'ll\b", " will", text)
    text = re.sub(r"'d\b", " would", text)
    return text


def _money_and_units(text: str) -> str:
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 50,000 -> 50000
    text = re.sub(r"(?<=\d)(am|pm)\b", r" \1", text)  # 10am -> 10 am

    def dollars(match: re.Match[str]) -> str:
        scale = _CURRENCY_SCALE.get((match.group(2) or "").strip(), match.group(2) or "")
        return f" {match.group(1)} {scale} dollars "

    text = re.sub(
        r"\$\s*(\d+(?:\.\d+)?)\s*(k|mm|mil|m|bn|b|thousand|million|billion)?\b", dollars, text
    )
    text = re.sub(
        r"\b(\d+(?:\.\d+)?)(k|mm|mil|m|bn|b)\b",
        lambda m: f"{m.group(1)} {_CURRENCY_SCALE[m.group(2)]}", text,
    )
    text = re.sub(r"\busd\b", "dollars", text)
    text = re.sub(r"%", " percent ", text)
    text = re.sub(r"/\s*(?:mo|mth|month)\b", " per month ", text)
    text = re.sub(r"/\s*(?:yr|year|annum)\b", " per year ", text)
    text = re.sub(r"(?<=\d)\s*-\s*(?=\d)", " to ", text)  # 20-30k -> 20 to 30k
    return text


def _join_spelled_letters(tokens: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(tokens):
        joined = None
        if len(tokens[i]) == 1:
            run = i
            while run < len(tokens) and len(tokens[run]) == 1 and tokens[run].isalpha():
                run += 1
            for end in range(run, i + 1, -1):  # longest known acronym first
                candidate = "".join(tokens[i:end])
                if candidate in _SPELLED:
                    joined = (candidate, end)
                    break
        if joined:
            out.append(joined[0])
            i = joined[1]
        else:
            out.append(tokens[i])
            i += 1
    return out


# Recognisers confuse "two"/"four" with "to"/"too"/"for"; only where a quantity must
# follow ("in to months", "about for thousand") is the number restored.
_HOMOPHONES = (
    (re.compile(r"\b(in|within|next|about|around|over|the next|than|like) (?:to|too)"
                r"(?= (?:days|weeks|months|quarters|years)\b)"), r"\1 two"),
    (re.compile(r"\b(about|around|maybe|roughly|like|spend|spending|approximately) (?:to|too)"
                r"(?= (?:hundred|thousand|million|grand)\b)"), r"\1 two"),
    (re.compile(r"\b(about|around|maybe|roughly|like|spend|spending|approximately|in|within) "
                r"for(?= (?:hundred|thousand|million|grand|weeks|months|years)\b)"), r"\1 four"),
)


def normalize(text: str) -> str:
    """Lowercase words, numbers and times in one canonical spacing; no punctuation."""
    text = text.translate(_QUOTES).lower()
    text = re.sub(r"\b([a-z])\.(?=[a-z]\.)", r"\1", text)  # c.e.o. -> ceo.
    text = re.sub(r"\b([ap])\.m\b\.?", r"\1m", text)
    text = _expand_contractions(text)
    text = _money_and_units(text)
    text = text.replace("&", " and ")
    text = re.sub(r"[^a-z0-9.:' ]", " ", text)
    text = re.sub(r"(?<!\d)[.:]|[.:](?!\d)", " ", text)  # keep 2.5 and 9:30 only
    text = text.replace("'", "")
    tokens = [_BARE.get(token, token) for token in text.split()]
    text = " ".join(_join_spelled_letters(" ".join(tokens).split()))
    for pattern, replacement in _HOMOPHONES:
        text = pattern.sub(replacement, text)
    return text


def split_sentences(text: str) -> list[Sentence]:
    """Sentences of a caller line; recogniser output without punctuation is one."""
    text = text.translate(_QUOTES)
    text = re.sub(r"\b([aApP])\.\s?[mM]\.", r"\1m", text)  # a.m. ends no sentence
    parts = re.split(r"(?<=[.!?;])\s+|\n+", text.strip())
    sentences = []
    for part in parts:
        normal = normalize(part)
        if normal:
            sentences.append(Sentence(raw=part.strip(), text=normal))
    return sentences


def compile_all(*patterns: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(pattern) for pattern in patterns)


def negated_before(text: str, start: int, window: int = 3) -> bool:
    """True when one of the few words before `start` negates what follows."""
    before = text[:start].split()[-window:]
    return any(word in ("not", "never", "no", "without", "hardly") for word in before) or (
        " ".join(before[-2:]) == "no longer"
    )
