"""Who decides: whether the caller makes (or shares) the buying decision, and their role.

Owns the A of BANT. Someone else deciding ("I'd have to run it by my boss",
"the board decides", "it's not my call") is checked before the caller deciding
("it's my call", "I sign off"), so a negated claim never reads as one. Sharing
the decision ("my partner and I decide together") counts as deciding. A senior
title ("I'm the CEO", "head of operations") says the caller decides when
nothing more explicit was said.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from graph.understanding.numbers import is_number_word
from graph.understanding.text import Sentence, compile_all, negated_before

_OTHERS = (
    r"(?:boss|manager|supervisor|director|owner|owners|ceo|cfo|coo|cto|president|vp|partner|"
    r"partners|board|husband|wife|management|higher ups|head office|headquarters|corporate|"
    r"finance|finance team|procurement|purchasing|legal|it|it department|it team|superiors|"
    r"leadership|leadership team|executive team|exec team|founder|founders|committee|team lead|"
    r"manager|department head|principal|superintendent|regional manager|head of \w+|dad|mom|"
    r"father|mother|brother|sister|gm|general manager|business partner|co founder|team|"
    r"accountant|bookkeeper)"
)
_DECIDE = (
    r"(?:decides?|decided|signs?\b(?! up)|handles? (?:all )?(?:of )?(?:that|this|those|"
    r"purchasing|buying|the money(?: side)?|the finances|the budget|the books)|"
    r"makes? (?:the |these |those |that |this |all the |all |final |such )?"
    r"(?:decisions?|calls?|final call|final decision)|has the (?:final )?say|have the (?:final )?"
    r"say|gets? the final say|signs? off|approves?|handles? (?:that|those|the) (?:decisions?|"
    r"purchasing|budget)|owns? the budget|controls? the budget|calls? the shots|is the decision "
    r"maker|are the decision makers|is in charge of (?:that|purchasing|buying|the budget))"
)

# Departments that decide, said without "my" or "the" ("procurement handles that").
_BODIES = (
    r"(?:corporate|procurement|purchasing|management|upper management|senior management|"
    r"finance|legal|head office|headquarters|hq|leadership|the board|the owners?|ownership)"
)

# Adverbs that may sit between who and "decides"; anything else ("the owner, so I
# decide") means the clause changed subject.
_ADVERBS = (
    r"(?:(?:usually|always|ultimately|really|actually|normally|typically|would|will|has to|"
    r"needs to|should|alone|himself|herself|themselves|then|also|generally|basically) ){0,2}"
)

_SHARED = compile_all(
    r"\b(?:we|my (?:business )?partner and i|me and my (?:business )?partner|"
    r"my (?:co founder|partner|wife|husband|boss|team|business partner|colleague) and i|"
    r"me and my (?:co founder|wife|husband|boss|team|colleague)|the two of us|both of us) "
    r"(?:would |will |usually |always |all |both |kind of |sort of )*"
    r"(?:decide|make (?:the |these |those |that |this |all the |all )?(?:decisions?|call)|"
    r"make that call|share (?:the|that|this) decision)\b",
    r"\b(?:joint|shared|group|team|collective|mutual) decision\b",
    r"\b(?:decide|decision|decisions|deciding) (?:it |that |this )?(?:together|jointly|as a team|"
    r"between us|between the two of us)\b",
    r"\b(?:one|part) of the (?:decision makers|people who decide|people making the decision|"
    r"buying committee|decision)\b",
    r"\bi (?:share|split) (?:the|that|this) decision\b",
    r"\b(?:i|we) (?:both )?(?:have|get) a (?:say|vote)\b",
    # "it's me and my partner", "my co-founder and I": who decides, answered by naming two
    r"\b(?:it is|that is|that would be|it would be|it will be|that will be) (?:both )?"
    r"me and (?:my|our|the) (?:\w+ )?\w+(?:$| together| jointly| (?:who|that) (?:decide|sign|"
    r"approve|make))",
    r"^(?:well |so |um |uh |oh |yeah |yes )*(?:both |just )?(?:me and (?:my|our|the) (?:\w+ )?\w+|"
    r"(?:my|our) (?:\w+ )?\w+ and (?:i|me|myself))$",
    r"\bme and (?:my|our|the)(?: \w+){1,3} (?:decide|make|share|sign)\b",
    r"\b(?:that|it) (?:is|would be|will be) (?:my|our) (?:\w+ )?\w+ and (?:i|me|myself)\b",
    r"\bnot (?:just|only|solely|entirely) (?:me|my (?:decision|call)|up to me)\b",
    r"\bi (?:am|would be|will be) (?:(?:also|always|usually|definitely|very much|closely) )?"
    r"involved in (?:the|that|this|those|"
    r"these|any|such) (?:decisions?|purchase|purchasing|buying)\b",
)
_SOMEONE_ELSE = compile_all(
    rf"\b(?:run|check|clear|discuss|go over|pass|bring|take|float|raise|talk) (?:it |this |that |"
    rf"things |everything )?(?:by|with|to|over with|through|past|up with) (?:my|our|the) "
    rf"{_OTHERS}\b",
    rf"\b(?:have to|need to|would need to|would have to|must|got to|will have to|will need to|"
    rf"should) (?:ask|check with|talk to|speak to|get approval from|get sign off from|consult|"
    rf"get the ok from|get the okay from|get permission from|loop in|convince) (?:my|our|the) "
    rf"{_OTHERS}\b",
    rf"\b(?:my|our|the) {_OTHERS} {_ADVERBS}{_DECIDE}\b",
    rf"\b(?:my|our|the) {_OTHERS} {_ADVERBS}(?:would |will )?(?:need|needs|have|has|got) to "
    rf"(?:approve|sign off|sign|okay|ok|decide|review|agree|say yes)\b",
    rf"\b(?:get|have|convince) (?:my|our|the) {_OTHERS} (?:to )?(?:sign off|approve|okay|ok|"
    rf"sign|agree|say yes)\b",
    rf"\bup to (?:my|our|the) {_OTHERS}\b",
    # "procurement handles that", "corporate decides": a department, no article needed
    rf"^(?:well |so |um |uh |honestly |oh )*{_BODIES} {_ADVERBS}(?:{_DECIDE}|handles? (?:that|it|"
    rf"this|those|these|purchasing|buying)|(?:has|have|would have|will have) to (?:approve|"
    rf"review|sign off|decide|okay))\b",
    r"\bi am not (?:really |even |usually )?involved in (?:the|that|this|those|these|any|such) "
    r"(?:decisions?|purchase|purchasing|buying)\b",
    r"\bi am (?:just|only) (?:the|a|an) (?:\w+ ){0,2}(?:assistant|receptionist|coordinator|"
    r"admin|administrator|secretary|employee|intern|associate|rep|representative|"
    r"office manager|staff member|team member)\b",
    rf"\b(?:she|he|they) {_ADVERBS}(?:decides?|makes? (?:the |these |those |that |this |"
    rf"all the |all |final |such )?decisions?|has the final say|have the final say|signs? off|"
    rf"approves? (?:it|that|this|purchases|everything)|is the decision maker|are the decision "
    rf"makers|is the one who decides|are the ones who decide)\b",
    rf"\b(?:someone|somebody|someone else|somebody else|other people|others|another person|"
    rf"a committee|upper management|a manager|my team|our team) {_ADVERBS}{_DECIDE}\b",
    r"\bnot (?:really |exactly |entirely |totally |actually |ultimately )?(?:my|up to me|mine|"
    r"in my hands|my decision|my call|the decision maker|"
    r"a decision maker|the one who decides|the one who makes|in charge|my department|my area|"
    r"my place|for me to decide|my budget)\b",
    r"\b(?:i|i personally) (?:do not|can not|could not|would not|am not able to|"
    r"am not allowed to|have no authority to|do not get to|do not have the authority to) "
    r"(?:make|decide|sign|approve|have the authority|have authority|have the final say|"
    r"have final say|have sign off|make that call|make those decisions|make the decisions?|"
    r"make decisions|make purchasing decisions|get to decide)\b",
    r"\bi am not (?:really )?(?:the|a) (?:decision maker|one who decides|one who makes|"
    r"person who decides|one in charge|person in charge|boss|owner|buyer)\b",
    r"\babove my (?:pay ?grade|head)\b",
    r"^(?:um |uh |well |no |nope |oh )*not me\b",
    rf"\b(?:that would be|that is|it would be|it is|that will be|that is really|that would "
    rf"really be) (?:my|our|the) {_OTHERS}\b(?! and (?:i|me)\b)",
    rf"\b(?:final )?(?:decision|call|say) (?:is|would be|lies|rests|sits) (?:with )?(?:my|our|the) "
    rf"{_OTHERS}\b",
    rf"\b(?:get|have|bring) (?:my|our|the) {_OTHERS} on ?board\b",
    r"\b(?:we have|there is|we have got) (?:a|an) (?:committee|board|procurement (?:team|process)|"
    r"approval process|buying committee) (?:for|that|who)\b",
    r"\bi (?:just|only) (?:answer|take|handle|work|do|run|cover) (?:the )?(?:phones?|messages|"
    r"front desk|reception|scheduling|calls|desk)\b",
    r"\b(?:not the (?:right|best|correct) person|wrong person)\b",
    r"\byou (?:would|will|should|might|may|probably|really|actually)? ?(?:want|need|have) to "
    r"(?:talk|speak) (?:to|with) (?:our|my|the)\b",
    r"\byou (?:would|will|should|might|may)? ?(?:want|need) (?:our|my|the) (?:owner|boss|manager|"
    r"office manager|director|ceo|president|partner|partners|founder|gm|general manager|head)\b",
    r"\bmy (?:boss|manager|supervisor) is the (?:owner|ceo|decision maker|one who decides|"
    r"founder|president|one who signs)\b",
    r"\b(?:need|needs|would need|have to get|would have to get|require|requires|must get|"
    r"will need|got to get) (?:to get )?(?:(?:board|management|manager|managerial|boss|finance|"
    r"corporate|legal|executive|exec|leadership|owner|committee|head office) )?(?:approval|"
    r"sign off|permission|a sign off|the green light|buy in|the ok|the okay)\b",
    r"\bi (?:just|only) work here\b",
    r"\bi can (?:only )?(?:recommend|suggest|pass (?:it|this|that) (?:on|along)|make a "
    r"recommendation)\b",
    rf"\b(?:goes|go|has to go|would have to go|needs to go|would go) (?:through|to|past) "
    rf"(?:my |our |the )?{_OTHERS}\b",
    r"\bi would have to ask\b",
    r"\b(?:decisions? (?:is|are|would be|gets|get) (?:made|taken) by|decision is up to|"
    r"decision lies with|decision rests with|decisions rest with|"
    r"(?:is|would be|will be|is really|is ultimately|is all|would really be) up to) "
    r"(?:my|our|the|him|her|them|someone|somebody)\b",
)
_CALLER_DECIDES = compile_all(
    r"\b(?:the )?(?:final )?(?:decision|call|say|choice) (?:is|would be|will be|is all|is totally|"
    r"is ultimately|is entirely|rests|lies) (?:all |totally |entirely |ultimately |really |"
    r"completely )?(?:mine|up to me|on me|in my hands|with me)\b",
    r"\b(?:it is|that is|that would be|it would be|it will be|that will be|that is totally|"
    r"it is totally|this is) (?:all |totally |entirely |ultimately |really |completely )?(?:my|me) "
    r"(?:call|decision|choice|say|budget|department|area)\b",
    r"\b(?:up to me|in my hands|my call|my decision)\b",
    r"\bi (?:make|take) (?:all )?(?:the|these|those|that|this|all|final|purchasing|buying|such)? ?"
    r"(?:decisions?|call|calls|final call|final decision)\b",
    r"\bthe buck stops (?:with me|here)\b",
    r"\bi (?:can|could|am able to|am allowed to|have the authority to|am authorized to|"
    r"am authorised to|have authority to) (?:make (?:that|this|the|those|these|such) "
    r"(?:decisions?|call)|decide|approve (?:it|that|this|purchases|the purchase|the budget)|"
    r"sign off|sign (?:it|that|the contract))\b",
    r"\bi (?:decide|get to decide|am the one who decides|am the one who makes|am the decider|"
    r"have the final (?:say|word|call)|have final (?:say|word)|call the shots|sign off|"
    r"sign the (?:checks|cheques)|approve (?:it|that|this|purchases|everything|the budget)|"
    r"hold the budget|own the budget|control the budget|control the purse strings|"
    r"hold the purse strings|have (?:the )?authority|have (?:full )?(?:purchasing|signing|budget|"
    r"sign off|spending|final) authority|am in charge|am the boss|make the decisions)\b",
    r"\bi am (?:the|a|one of the)? ?(?:decision maker|decider|one who decides|one who makes "
    r"(?:the )?decisions?|one making the decision|person who decides|final say|one in charge|"
    r"boss|man in charge|woman in charge|person in charge)\b",
    r"\bi (?:own|run|started|founded|co founded) (?:the|this|my|our) (?:company|business|firm|"
    r"shop|practice|agency|store|place|clinic|office|team|department|restaurant|salon)\b",
    r"\b(?:it|this) is my (?:company|business|firm|shop|practice|agency|store)\b",
    r"\bi (?:handle|do|run|manage|oversee|am in charge of|am responsible for|own|control) "
    r"(?:all )?(?:the |our )?(?:purchasing|buying|procurement|vendor (?:selection|decisions)|"
    r"budget|budgets|spending|software decisions|tech decisions)\b",
    r"\bi am the (?:one|person|guy|woman|man|lady) (?:who|that) (?:signs|approves|decides|"
    r"makes the (?:decisions?|call)|pays|controls|holds|owns|has the final say|calls the shots|"
    r"writes the checks|pays the bills)\b",
)

# Job titles. A title is up to three modifiers ("senior sales") before one of these
# words, and an optional "of <department>".
_TITLE_HEAD = (
    r"chief of staff|chief [a-z]+(?: officer)?|ceo|cfo|coo|cto|cmo|cio|cro|cso|cpo|"
    r"president|vice president|vp|svp|evp|director|head|manager|owner|co owner|founder|"
    r"co founder|partner|principal|proprietor|chairman|chairwoman|chair|lead|supervisor|gm|"
    r"coordinator|administrator|admin|assistant|executive|officer|engineer|analyst|consultant|"
    r"specialist|representative|associate|controller|treasurer|secretary|receptionist|"
    r"accountant|bookkeeper|dispatcher|superintendent|architect|strategist|producer"
)
_SENIOR = re.compile(
    r"\b(?:chief|ceo|cfo|coo|cto|cmo|cio|cro|cso|cpo|president|vp|svp|evp|director|head|"
    r"owner|founder|partner|principal|proprietor|chairman|chairwoman|chair|general manager|gm|"
    r"managing)\b"
)
_JUNIOR = re.compile(r"\b(?:assistant|coordinator|intern|associate|trainee|deputy)\b")
_NOT_MODIFIERS = frozenset({
    "the", "a", "an", "our", "their", "my", "just", "actually", "currently", "also", "really",
    "basically", "now", "only", "one", "of", "not", "still", "kind", "sort", "technically",
    "officially", "here", "so", "and", "but", "i", "am", "is", "we", "well", "new", "former",
})
_TITLE = re.compile(
    r"\b(?:i am|i work as|i serve as|my (?:title|role|position|job title|job) is|as (?:the|a|an))"
    r"\s+(?P<body>(?:[a-z]+ ){0,4}?)(?P<head>(?:" + _TITLE_HEAD + r")(?: (?:" + _TITLE_HEAD
    + r"))?)\b"
    r"(?P<dept> of (?:the )?[a-z]+(?: [a-z]+){0,2})?"
)
_RUNS = re.compile(
    r"\bi (?P<verb>run|head|head up|lead|manage|oversee|am in charge of) "
    r"(?:the |our |all |a |an |my )?(?P<what>[a-z]+(?: [a-z]+){0,2})"
)
_STOP_AFTER = frozenset({"so", "and", "but", "at", "for", "here", "it", "i", "we", "with", "in",
                         "who", "which", "that", "this", "there", "now", "too", "over", "is",
                         "are", "team", "department", "side", "group", "division", "function",
                         "org", "organization", "organisation", "things", "stuff", "company"})
_ACRONYMS = frozenset({"ceo", "cfo", "coo", "cto", "cmo", "cio", "cro", "cso", "cpo", "vp", "gm",
                       "svp", "evp", "it", "hr", "ai", "crm"})
_COMPANY = frozenset({"company", "business", "firm", "shop", "practice", "agency", "store",
                      "place", "clinic", "office", "restaurant", "salon"})


def _present(words: str) -> str:
    """A title as text: acronyms upper case, "co founder" as "co-founder"."""
    text = " ".join(word.upper() if word in _ACRONYMS else word for word in words.split())
    return re.sub(r"\bco (founder|owner)\b", r"co-\1", text)


def _trim_department(text: str) -> str:
    words = []
    for word in text.split():
        if word in _STOP_AFTER:
            break
        words.append(word)
    return " ".join(words)


def read_role(text: str) -> tuple[str | None, bool]:
    """(job title, whether it implies authority) stated in normalised text."""
    for match in _TITLE.finditer(text):
        body = match.group("body").split()
        if any(word in ("not", "never") for word in body) or negated_before(text, match.start()):
            continue
        modifiers = []
        for word in reversed(body):  # only the words right before the title qualify it
            if word in _NOT_MODIFIERS:
                break
            modifiers.insert(0, word)
        department = ""
        if match.group("dept"):
            department = _trim_department(match.group("dept").replace(" of the ", " of ")[4:])
        title = " ".join([*modifiers, match.group("head")])
        if department:
            title += f" of {department}"
        senior = bool(_SENIOR.search(title)) and not _JUNIOR.search(title)
        return _present(title), senior
    for match in _RUNS.finditer(text):
        if negated_before(text, match.start()):
            continue
        words = match.group("what").split()
        if _COMPANY.intersection(words):
            return "owner", True
        what = _trim_department(" ".join(words))
        if not what or what in ("it", "that", "this", "things", "everything") or any(
            is_number_word(word) for word in what.split()
        ):
            continue
        if match.group("verb") == "manage":
            return _present(f"{what} manager"), False
        return _present(what), True
    return None, False


def read_authority(sentences: Sequence[Sentence]) -> tuple[bool | None, str | None]:
    """(decision_maker, role): True when the caller decides or shares the decision,
    False when someone else decides, None when not said."""
    decision: bool | None = None
    role: str | None = None
    senior = False
    for sentence in sentences:
        text = sentence.text
        found_role, found_senior = read_role(text)
        if found_role and role is None:
            role, senior = found_role, found_senior
        if any(pattern.search(text) for pattern in _SHARED):
            decision = True
        elif any(pattern.search(text) for pattern in _SOMEONE_ELSE):
            decision = False
        else:
            for pattern in _CALLER_DECIDES:
                match = pattern.search(text)
                if match and not negated_before(text, match.start(), window=2):
                    decision = True
                    break
    if decision is None and senior:
        decision = True
    return decision, role
