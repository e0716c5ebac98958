"""Whether the caller has the problem we solve: the N of BANT, in their own words.

Owns recognising a stated pain or wish ("we lose leads because nobody answers
after hours", "our support team is swamped", "we need a better way to ...") and
its absence ("we don't really have that problem", "we're fine as we are"). When
both appear in one sentence the later wins ("we have a receptionist, but she's
overwhelmed" is a need). A short answer to our question that names part of the
job ("after hours coverage") is the need. The need is kept as the caller's
sentence, tidied.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from graph.understanding.intents import detect_brush_off
from graph.understanding.text import Sentence, compile_all, negated_before, normalize
from graph.understanding.word_lists import word_list

_OBJECTS = (
    r"(?:leads?|calls?|customers?|clients?|deals?|sales|business|opportunit(?:y|ies)|revenue|"
    r"money|prospects?|bookings?|appointments?|inquiries|enquiries|orders?|jobs|patients|"
    r"callers|time|hours|messages|referrals|quotes|signups|sign ups)"
)
_NEED = compile_all(
    # losing or missing business
    rf"\b(?:lose|losing|lost|miss|missing|missed|drop|dropping|dropped|leak|leaking|waste|"
    rf"wasting|wasted|leave|leaving|turn away|turning away|bleed|bleeding)"
    rf" (?:(?!your\b|my\b)\w+ ){{0,4}}?{_OBJECTS}\b",
    # nobody there to answer
    r"\b(?:no one|nobody|not enough (?:people|staff|hands)|no staff|no one is|nobody is|"
    r"no one to|nobody to|no one available|nobody available|no one around) (?:\w+ ){0,3}?"
    r"(?:answer|answers|answering|pick|picks|picking|respond|responds|responding|follow|follows|"
    r"following|call|calls|calling|handle|handles|handling|available|around|there|working|"
    r"manning|cover|covers|covering|check|checks|checking|listen|listens|get back|gets back|"
    r"return|returns|returning)\b",
    # strain on the team
    r"\b(?:overwhelm\w*|swamped|drowning|buried|slammed|stretched (?:too )?thin|understaffed|"
    r"under staffed|short staffed|short handed|shorthanded|burn(?:ed|t|ing)? out|bottleneck\w*|"
    r"backlog\w*|falling through the cracks|fall through the cracks|slip(?:ping|s)? through|"
    r"go(?:es|ing)? cold|gone cold|went cold|can not keep up|could not keep up|"
    r"hard to keep up|struggle to keep up|struggling to keep up|too many (?:\w+ )?(?:calls|leads|"
    r"inquiries|requests|messages|voice mails)|"
    r"(?:takes?|taking) (?:us |me |them |our team |the team )?(?:too long|forever|ages|days|"
    r"hours|(?:a week|weeks)(?= to (?:get back|respond|reply|answer|call|follow up|return)))|"
    rf"(?:spend|spending|spent|waste|wasting|wasted|lose|losing) (?:too much|so much|way too much|"
    rf"a lot of|hours of|half (?:of )?(?:our|my|the)) (?:\w+ )?time (?:on|with|chasing|answering|"
    rf"calling|following up|qualifying|dealing with|handling|screening|returning) "
    rf"(?:\w+ ){{0,3}}?(?:{_OBJECTS}|phones?|voice mails?|tire kickers|spam|admin)|"
    r"(?:long|slow|bad|terrible|awful|crazy) (?:wait|hold|response) times?|missed calls|"
    r"voice mails? pil\w+ up|piling up|calls go to voice mail|go to voice mail|"
    r"(?:can not|could not|do not|never) (?:get back to|get to|answer|pick up|respond to|follow up "
    r"(?:on|with)|keep up with|handle|reach) (?:\w+ ){0,3}?(?:calls?|leads?|customers?|"
    r"everyone|people|inquiries|the phone|phones|them|all|anyone|anybody|someone|somebody|"
    r"a person|a human|us))\b",
    # the phones never stop; the people to answer them left
    r"\b(?:ring(?:s|ing)? (?:off the hook|all day|constantly|non ?stop|nonstop)|"
    r"(?:miss|missing|missed|lose|losing|drop|dropping) (?:half|most|some|a lot|many|lots|a bunch|"
    r"a third|a quarter|plenty) of (?:them|those|these|the calls|our calls)|"
    r"(?:do not|does not|did not) have (?:anyone|anybody|someone|somebody|enough (?:people|staff)|"
    r"the (?:people|staff|time)|staff|people|time) to (?:answer|cover|pick up|handle|follow up|"
    r"call|respond|get back|man)|"
    r"(?:have|has|got) no (?:good |easy |real |proper )?(?:way|system|process|tool|one|time) to|"
    r"(?:phones?|calls) (?:never stop|do not stop|keep) "
    r"(?:ringing|coming)|non ?stop calls|(?:receptionist|assistant|admin|secretary|staff|"
    r"front desk person|office manager|dispatcher|sales rep|rep) (?:just )?(?:quit|left)|"
    r"(?:can not|could not|hard to|struggle to) (?:hire|find (?:good )?(?:staff|people|help)))\b",
    # calls that go nowhere
    r"\b(?:calls?|leads?|inquiries|enquiries|messages|voice mails?) (?:\w+ ){0,4}?(?:go|goes|going|"
    r"get|gets|getting|went|are|end up|sit) (?:nowhere|unanswered|missed|lost|ignored|dropped|"
    r"to voice mail|cold|to waste|unreturned|in a pile|for days)\b",
    # unhappy with what they have
    r"\b(?:(?:they|it|that|the service|the system|(?:our|my|the) (?:current )?(?:\w+ )?"
    r"(?:service|system|setup|set up|process|follow up|response time|response times|"
    r"answering|receptionist|provider|vendor|team|software|tool|call center|phone system)) "
    r"(?:are|is) (?:really |pretty |so |just |kind of |honestly )?(?:terrible|awful|bad|useless|"
    r"expensive|too expensive|unreliable|a joke|not great|not good|not working|slow|rubbish|"
    r"a mess|broken|patchy|hit or miss|inconsistent|overloaded|overwhelmed)|"
    r"not happy with|unhappy with|fed up|sick of|tired of|(?:looking|want|need|hoping) to "
    r"(?:switch|replace|change|upgrade))\b",
    # trouble, said about ourselves
    r"\b(?:struggl\w+|(?:having|have|had) (?:a )?(?:hard|tough|difficult) time|"
    r"(?:having|have|had|got) (?:a |real |big |huge |some )?(?:trouble|problems?|issues?)|"
    r"(?:our|my|the) (?:biggest |main |real |big |major )?(?:problem|issue|challenge|"
    r"pain point|headache|bottleneck) is|pain points?|headaches?|frustrat\w+|nightmare|"
    r"(?:it is|that is) (?:a )?(?:mess|chaos|chaotic|a pain|painful)|hard to (?:answer|keep|"
    r"handle|follow|track|qualify|respond|get back|reach|find|manage|scale|staff|cover))\b",
    # wanting a better way
    r"\b(?:we|i|our team|our company|our business|the team|the business|the company) "
    r"(?:really |definitely |badly |desperately |actually |probably |would |just |do |"
    r"kind of |sort of |still |are |am |have been |could )*"
    r"(?:need|needs|want|wants|like|looking|trying|hoping|hope|wish|interested|keen|exploring|"
    r"considering|thinking about|meaning|evaluating|shopping)"
    r"(?: (?:to|for|in|into|a|an|some|help|something|better|more|someone|a way|a better|"
    r"a solution|an? (?:system|tool|service|solution|way|answering|receptionist)|"
    r"\w+ing))\b(?! (?:to )?(?:check|ask|talk|run|think|discuss|consult|decide|get approval|"
    r"go|leave|hang|call you|wait|know|see|confirm|review|speak|clear|sleep|more time|"
    r"time|approval|permission|sign off|a minute|a moment|a second|you|be called|be removed|off|"
    r"be taken|be put|be added|be left|hear from|"
    # "I want a person" asks for one; "we need a person to answer the phones" is a need
    r"(?:a |an |to talk to a |to speak to a )?(?:real |live )?(?:human|person|representative|"
    r"operator|agent)(?! (?:to|that|who|which|for|answering|handling)\b))\b)",
    # agreeing it is their problem
    r"\b(?:that is|that would be|that sounds|it is|this is|that is definitely|that is exactly) "
    r"(?:exactly |definitely |really |totally |pretty much |basically )?(?:our|my|the) "
    r"(?:problem|issue|pain|challenge|situation|biggest problem|main problem|struggle)\b",
    r"\b(?:we|i) (?:definitely |really |totally )?(?:have|had|face|deal with|are dealing with|"
    r"see|get) (?:that|this|the same|exactly that|this exact|that exact) (?:problem|issue|"
    r"challenge|pain)\b",
    r"\bthat (?:sounds|is) (?:like |exactly )?(?:us|our (?:company|team|business|situation))\b",
    r"\b(?:it|that|this|you) (?:would|could|might) (?:really |definitely |totally |actually )?"
    r"(?:help|be (?:a )?(?:huge|big|great|real) help|save us)\b",
    r"\b(?:big|huge|real|major|massive|serious|constant|ongoing) (?:problem|issue|pain|"
    r"headache|need|gap|challenge|struggle)\b",
    r"\bcould (?:really |definitely )?use (?:some |the |a )?help\b",
)
_NO_NEED = compile_all(
    r"\b(?:do not|does not|did not) (?:really |actually |currently |even |honestly |"
    r"think we |think i |personally )*(?:need|want|require)\b(?! to\b| you\b)",
    r"\b(?:do not|does not|did not|never) (?:really |actually |currently |even |honestly |"
    r"usually |typically )*(?:have|face|see|get|experience|deal with|run into|struggle with) "
    r"(?:that|this|the|a|any|much of a|such a|those|these|this kind of|that kind of|that sort of|"
    r"a real|an|many|much)? ?(?:problems?|issues?|pain|challenges?|need|headaches?|trouble)\b",
    r"\b(?:not|never) (?:really )?(?:something|anything) (?:we|i) (?:need|want|would use|"
    r"are looking for|are interested in|require|struggle with|worry about)\b",
    r"\bno need\b(?! to)",
    r"\b(?:we are|i am|we have been|we are doing|everything is|things are|all is|it is all|"
    r"we are all) (?:totally |perfectly |really |pretty |just |all |quite |actually )?"
    r"(?:fine|good|okay|all set|set|covered|sorted|happy|satisfied|content|well served|"
    r"taken care of|handled|under control|doing fine|doing well|doing okay) "
    r"(?:as (?:we are|is|it is|things are)|with (?:what|how|our|the current|the way)|for now|"
    r"on that (?:front|side)|in that (?:department|area|regard)|there)\b",
    r"\b(?:already|currently) (?:have|use|got|using|work with|working with|pay for|paying for|"
    r"has|have got|employ) (?:a|an|one|something|someone|that|this|our own|people|staff|a team|"
    r"somebody)\b",
    r"\b(?:that is|it is|this is) not (?:really |actually |much of |even )?(?:a|an|our) "
    r"(?:problem|issue|concern|priority|pain|need|focus)\b",
    r"\bnot (?:really )?(?:a|an) (?:problem|issue|concern|priority|pain point) "
    r"(?:for us|here|at the moment|right now|we have)\b",
    r"\b(?:we|i) (?:handle|manage|cope with|deal with|take care of|cover|answer) (?:it|that|"
    r"everything|things|this|them|all (?:of )?(?:them|our calls)|our calls|the calls|the phones) "
    r"(?:fine|ourselves|myself|in house|internally|already|well|just fine|on our own|okay|ok)\b",
    r"\b(?:does not|do not|would not|will not) (?:really )?(?:apply|fit|work) (?:to|for) "
    r"(?:us|me|our)\b",
    r"\bnot (?:relevant|applicable|a fit|a good fit|for our business)\b",
    r"\b(?:we are|i am) (?:way |much )?too small (?:for|to need)\b",
    r"\bnothing (?:is )?(?:broken|wrong)\b",
    r"\b(?:it|that|everything|this|they|the system|our system) (?:works|is working|runs|"
    r"work|are working|does the job|do the job) (?:really |pretty |just )?(?:great|fine|well|"
    r"perfectly|okay)\b",
    r"\b(?:happy|satisfied|pleased) with (?:it|them|our|what|the|how)\b",
    r"\bhave (?:a|an|our own|someone|people|staff|somebody) (?:\w+ ){0,3}already\b",
    r"\b(?:do not|does not|never) (?:really |even )?(?:get|have|receive|see) "
    r"(?:that |very |too |so )?(?:many|much) (?:calls|leads|volume|inquiries|traffic|business)\b",
    # "the phones are fine as they are": what they have, said to be enough
    r"\b(?:\w+ )(?:are|is) (?:totally |perfectly |really |pretty |just |all |quite )?"
    r"(?:fine|good|okay|ok|great) (?:as (?:they|it) (?:are|is|stands?)|"
    r"the way (?:they|it) (?:are|is))\b",
    r"\b(?:have|had|got|see|face) no (?:real )?(?:problems?|issues?|trouble|need|complaints)\b",
    r"^(?:well |honestly |um |uh |oh |nah |no )*(?:no|not any) (?:real |major |big |actual )"
    r"(?:problems?|issues?|complaints)\b|^no (?:problems|issues)(?: really| at all| here|$)",
    r"\b(?:hardly|barely|rarely|seldom) (?:ever )?(?:get|have|receive|see) (?:any |many |much |"
    r"a lot of )?(?:calls|leads|volume|inquiries|enquiries|traffic|business)\b",
    r"\b(?:our|my|the) (?:current )?(?:\w+ )?(?:setup|set up|system|process|service|team|"
    r"solution|provider|receptionist|answering service|call center) (?:is|are) (?:totally |"
    r"perfectly |really |pretty |just |working )?(?:fine|good|okay|great|working|solid|"
    r"doing fine|doing great|doing the job)\b",
)
_BARE_NONE = re.compile(r"^(?:nothing|none|nothing really|not much|nothing at all|no problems?|"
                        r"no issues?|nothing comes to mind|all good)$")
_FILLERS = re.compile(
    r"^(?:(?:honestly|well|so|um|uh|oh|look|basically|actually|i mean|and|but|yeah|yes|yep|"
    r"sure|okay|ok|right|alright|all right|hmm|frankly|like|you know|i guess|i would say|"
    r"i think|the thing is|the biggest thing is|the main thing is|our biggest challenge is|"
    r"the biggest challenge is|the problem is|the issue is)\b[\s,.:;!-]*)+",
    re.IGNORECASE,
)
_MAX_CHARS = 200
# A short answer to "what's your biggest challenge?" that names part of the job
# ("after hours coverage", "lead qualification") is the need itself.
_TOPIC = re.compile(
    r"\b(?:(?:missed|lost|dropped|unanswered|inbound|incoming|new|sales) (?:calls|leads)|"
    r"(?:lead|call|phone) (?:qualification|handling|volume|routing|follow up|response)|"
    r"coverage|qualif\w*|follow ups?|following up|answering (?:the )?(?:phones?|calls)|"
    r"the phones|scheduling|booking|overflow|after hours|nights|weekends|response times?|"
    r"intake|voice ?mails?|spam calls|staffing|hiring)\b"
)
_TOPIC_WORDS = 6
# Not a topic named in answer: a question back, or a sentence with its own subject or
# figures ("call me back next week", "about 300 leads a week").
_NOT_TOPIC = re.compile(
    r"^(?:what|why|how|who|which|do|does|is|are|can|could|sorry)\b|"
    r"\b(?:i|me|we|us|you|it|this|that|call me|call us|\d+|hundred|thousand)\b"
)


def _business_words() -> tuple[frozenset[str], tuple[str, ...]]:
    entries = word_list("business_words")
    return (frozenset(e for e in entries if " " not in e),
            tuple(e for e in entries if " " in e))


_WORDS, _PHRASES = _business_words()


def about_the_business(text: str) -> bool:
    """The normalised `text` names something of handling calls, leads or customers: a
    free answer that does is the caller's need; one that does not is likely misheard."""
    tokens = text.split()
    singular = {token[:-1] for token in tokens if token.endswith("s")}
    padded = f" {text} "
    return bool(_WORDS & {*tokens, *singular}) or any(
        f" {phrase} " in padded or f" {phrase}s " in padded for phrase in _PHRASES
    )


def tidy_need(raw: str) -> str:
    """The caller's sentence, without leading fillers or trailing punctuation."""
    text = re.sub(r"\s+", " ", raw).strip()
    stripped = _FILLERS.sub("", text).strip()
    text = stripped if len(stripped.split()) >= 3 else text
    text = text.rstrip(" .,!?;:")
    if len(text) > _MAX_CHARS:
        text = text[:_MAX_CHARS].rsplit(" ", 1)[0]
    return text[:1].upper() + text[1:]


def _need_clauses(raw: str) -> str:
    """The part of a sentence that states the need: from its first clause with a need
    in it to its last ("..., budget around 40k and I'm the COO" is left out)."""
    clauses = [c for c in re.split(r"[,;:]|\s[-\u2013\u2014]\s", raw) if c.strip()]
    stating = [
        index for index, clause in enumerate(clauses)
        if _last_position(_NEED, normalize(clause), check_negation=True) is not None
    ]
    if not stating:
        return raw
    return ",".join(clauses[stating[0]:stating[-1] + 1])


def _last_position(patterns: tuple[re.Pattern[str], ...], text: str, *,
                   check_negation: bool) -> int | None:
    last = None
    for pattern in patterns:
        for match in pattern.finditer(text):
            if check_negation and negated_before(text, match.start(), window=2):
                continue
            last = match.start() if last is None else max(last, match.start())
    return last


def read_need(sentences: Sequence[Sentence], *, expecting: bool = False) -> tuple[str | None, bool]:
    """(the need in the caller's words or None, no_need) from a caller's line.

    `expecting` says the caller is answering our question about their problem,
    so "nothing really" means no need.
    """
    need: str | None = None
    no_need = False
    for sentence in sentences:
        text = sentence.text
        positive = _last_position(_NEED, text, check_negation=True)
        negative = _last_position(_NO_NEED, text, check_negation=False)
        if (expecting and _BARE_NONE.match(text)) or detect_brush_off(text):
            negative = 0
        elif (expecting and positive is None and negative is None
              and len(sentence.tokens) <= _TOPIC_WORDS and _TOPIC.search(text)
              and not sentence.raw.rstrip().endswith("?") and not _NOT_TOPIC.search(text)):
            positive = 0
        if positive is None and negative is None:
            continue
        if negative is None or (positive is not None and positive > negative):
            need, no_need = tidy_need(_need_clauses(sentence.raw)), False
        else:
            need, no_need = None, True
    return need, no_need
