"""The caller's first name, when they say it ("this is Dana", "my name's Sam", "Priya here").

Owns telling a name from the other words that follow "this is" or "I'm". Typed
text marks names with a capital; recogniser output is all lower case, so there
a name is any word that is not a common English word of a phone call.
"""

from __future__ import annotations

import re

# Words that follow "this is" / "I'm" / "speaking" without being a name.
_NOT_NAMES = frozenset({
    "a", "about", "actually", "afraid", "afternoon", "again", "all", "already", "also", "always",
    "amazing", "an", "and", "annoying", "any", "anyone", "anything", "anytime", "as", "asap",
    "assistant", "at", "available", "awful", "back", "bad", "be", "because", "been", "being",
    "boss", "bot", "both", "buddy", "business", "busy", "but", "by", "call", "calling", "ceo",
    "company", "cool", "correct", "crazy", "definitely", "director", "doctor", "doing", "done",
    "down", "dr", "dude", "either", "evening", "every", "everyone", "everything", "fine", "for",
    "founder", "free", "friday", "from", "funny", "getting", "glad", "going", "good", "great",
    "happy", "having", "head", "hello", "her", "here", "hey", "hi", "him", "his", "hmm", "home",
    "honey", "how", "human", "i", "if", "important", "in", "interested", "interesting", "is",
    "it", "just", "last", "later", "like", "line", "looking", "lovely", "maam", "machine",
    "madam", "mail", "manager", "maybe", "me", "message", "miss", "mister", "monday", "morning",
    "mr", "mrs", "ms", "my", "neither", "never", "new", "next", "nice", "no", "nobody", "none",
    "not", "nothing", "now", "number", "of", "off", "office", "often", "oh", "ok", "okay", "old",
    "on", "one", "or", "our", "out", "over", "owner", "perfect", "perhaps", "person", "phone",
    "please", "president", "pretty", "probably", "quite", "ready", "real", "really",
    "receptionist", "regarding", "ridiculous", "right", "robot", "saturday", "since", "sir", "so",
    "some", "somebody", "someone", "something", "sometime", "sometimes", "soon", "sorry",
    "speaking", "still", "strange", "sunday", "sure", "team", "terrible", "texting", "than",
    "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "thursday",
    "to", "today", "tomorrow", "tonight", "too", "totally", "trying", "tuesday", "uh", "um",
    "unbelievable", "until", "up", "urgent", "us", "usually", "very", "voice", "voicemail", "was",
    "we", "wednesday", "weird", "well", "what", "when", "whenever", "where", "which", "who",
    "why", "with", "work", "wrong", "yeah", "yep", "yes", "you", "your",
})
_PATTERNS = (
    re.compile(r"\bmy name is (?P<name>[a-z]+)"),
    re.compile(r"\b(?:name is|call me|it is|this is|i am|you have got|you are speaking with|"
               r"you are talking to) (?P<name>[a-z]+)\b(?! (?:a|an|the|about|calling|for)\b)"),
    re.compile(r"^(?:hi |hello |hey |yes |yeah )*(?P<name>[a-z]+) (?:speaking|here)\b"),
)


def read_name(raw: str, text: str) -> str | None:
    """The caller's first name from a line (raw as said, text normalised)."""
    typed = raw != raw.lower()
    for pattern in _PATTERNS:
        for match in pattern.finditer(text):
            name = match.group("name")
            if name in _NOT_NAMES or len(name) < 2:
                continue
            if typed and not re.search(rf"\b{name.capitalize()}\b", raw):
                continue  # typed text capitalises names; "I'm swamped" is no name
            loose = match.group(0).startswith(("it is", "i am"))
            if pattern is _PATTERNS[1] and loose and not typed:
                continue  # "it is busy", "i am swamped": too often not a name in lower case
            return name.capitalize()
    return None
