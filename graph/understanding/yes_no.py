"""Yes and no: whether a caller's line answers the pending question for or against.

Owns the many ways people say either ("yep", "sure thing", "go for it", "nah", "not
really", "probably not") and the cases where the words mislead: "no" before a noun
is a determiner ("no budget"), "yeah, no" is a no, "definitely not" is not a yes.
Takes the normalised text of `graph.understanding.text.normalize`.
"""

from __future__ import annotations

from graph.understanding.text import compile_all

_YES = compile_all(
    r"\b(?:yes|yeah|yep|yup|yea|yah|aye|affirmative|absolutely|definitely|certainly|"
    r"of course|for sure|by all means|you bet|sure thing|please do(?! not)|why not|go ahead|"
    r"go on|uh huh|mhm|mm hmm|sounds (?:good|great|fine|perfect|like a plan|ok|okay|right)|"
    r"that works|works for me|that would work|that will work|fine by me|no problem|"
    r"no worries|i think so|i guess so|i suppose so|i believe so|let us do it|let us go|"
    r"sounds interesting|tell me more|i am listening|i am all ears|fire away|shoot|go for it|"
    r"ask away|(?:a |one )?hundred percent|100 percent)\b",
    r"(?<!\bnot )(?<!\bnever )\b(?:i would |i would be |i am |we would be |we are )?"
    r"(?:love to|happy to|glad to)\b",
    r"(?<!\bnot )(?<!\bmake )(?<!\bbe )(?<!\bam )(?<!\bare )\bsure\b",
    r"(?<!\bwe are )(?<!\bi am )(?<!\bwe are all )\b(?:okay|all right)\b",
    # not "we are fine": that is a brush-off (below)
    r"\b(?:that is|it is|that sounds|that would be|that is all|is|(?<!\bwe )are|would be) "
    r"(?:fine|good|great|perfect|right|correct|true|okay|ok|ideal|wonderful)\b",
    r"\b(?:that is|it is|that would be|that will be|it would be|it will be|that is going to be|"
    r"that is gonna be) (?:me|myself|us|yours truly)\b",
    r"^(?:um |uh |oh |well )?(?:me|myself|yours truly|me myself)"
    r"(?: i (?:guess|suppose|think|would say)| probably| mostly| really)?$",
    r"\bi have (?:a (?:few|couple of|couple) (?:minutes|moments|seconds)|(?:some )?time|"
    r"a minute|a moment|a sec|a second)\b",
    r"^(?:um |uh |oh |well |hi |hello )?(?:i guess|i suppose|correct|exactly|indeed|perfect|"
    r"great|good|cool|fine|right|speaking|please|that is right|you got it|true)"
    r"(?: (?:thanks|thank you|then|yes|sure|okay|please))?$",
    r"^(?:um |uh |oh |well )?(?:i do|we do|i can|i will|i am|we are|i have|we have|that is me|"
    r"it is me)$",
    r"^(?:um |uh |oh |well )?(?:ya|totally|sure sure)$",
)
# "no" is an answer only when it stands alone or starts a clause ("no, that is all",
# "no we do not"); before a noun it is a determiner ("no budget", "no one").
_NO_FOLLOWERS = (
    r"thanks|thank|i|we|that|it|not|sorry|no|nope|you|this|there|but|actually|sir|maam|"
    r"man|well|just|unfortunately|please|way(?! to\b| of\b)|never|definitely|absolutely|really|"
    r"nothing|none|"
    r"i am|we are|longer"
)
_NO = compile_all(
    rf"\bno\b(?=$| (?:{_NO_FOLLOWERS})\b)",
    r"\b(?:nope|nah)\b",
    r"^(?:um |uh |well |oh )?(?:negative|never)\b",
    r"\b(?:not really|not now|not today|not at the moment|not right now|not at this time|"
    r"not at this point|not at all interested|not interested|no thanks|no thank you|"
    r"i do not think so|i would rather not|rather not|definitely not|absolutely not|"
    r"certainly not|of course not|not a chance|no way(?! to\b| of\b)|not a good time|"
    r"not really sure|"
    r"that does not work|does not work for me|will not work|would not work|not at all|"
    r"probably not|not exactly|not quite|not particularly|not especially|i would say no|"
    r"i am afraid not|afraid not|i guess not|i suppose not|not so much)\b",
    # "yeah, no" is a no; "yeah, no problem" a yes
    r"^(?:um |uh |oh |well )?(?:yeah|yes|yep) no\b(?! (?:problem|worries|doubt|question)\b)",
    r"\b(?:i|we) (?:do|am|are|can|will|have|did) not$",
    # "we are good, thanks", also after something else ("nothing really, we are fine")
    r"\b(?:we are|i am|i think we are) (?:good|fine|okay|all set|all good)"
    r"(?: thanks| thank you)?$",
)


def detect_affirmative(text: str) -> bool | None:
    """Yes (True), no (False) or neither (None): the earliest answer said wins.

    "No, that is all, thank you" is a no; "sure, call me back" a yes; "definitely
    not" a no although it starts with "definitely".
    """
    best: tuple[int, int, bool] | None = None
    for patterns, verdict in ((_YES, True), (_NO, False)):
        for pattern in patterns:
            for match in pattern.finditer(text):
                candidate = (match.start(), -(match.end() - match.start()), verdict)
                if best is None or candidate[:2] < best[:2]:
                    best = candidate
    return None if best is None else best[2]
