"""Conversational acts in a caller's line: yes/no, opt-out, asking for a person, ...

Owns the things a caller *does* with a line, as opposed to the facts they state:
answering yes or no (read by `graph.understanding.yes_no`), asking not to be called again, asking
for a human, asking to be called back, proposing another meeting time, declining,
closing, asking us to repeat, asking who we are, asking to be sent something to
read instead of talking now, and recognising an answering machine's greeting. Every
detector takes the normalised text of `graph.understanding.text.normalize`.
"""

from __future__ import annotations

import re

from graph.understanding import yes_no
from graph.understanding.near_phrases import near_phrase
from graph.understanding.text import compile_all, negated_before
from graph.understanding.word_lists import word_list

# --- opt-out ---------------------------------------------------------------------------

_CONTACT_VERB = r"(?:call|contact|phone|ring|dial|text|bother|email|message)"
_ME = r"(?:me|us|this number|my number|our number|this line|here|my phone|this phone)"
# What may follow "don't call me" when it is a refusal of all calls; anything else
# ("before nine", "at work", "sam") restricts or renames and is not an opt-out.
_REFUSAL_TAIL = (
    r"(?=$| (?:again|anymore|any more|ever|back|no more|please|thanks|thank you|and|or|okay|"
    r"all right|goodbye|bye|ok|seriously|i mean it|understood|i am not interested|"
    r"not interested|at all|period|on this number|at this number)\b)"
)
# "Don't call" said to us, not about someone ("we don't call them back").
_DO_NOT = (
    r"(?<!\bwe )(?<!\bthey )(?<!\bi )(?<!\byou )(?<!\bhe )(?<!\bshe )(?<!\bpeople )"
    r"(?<!\bwho )(?<!\bthat )\b(?:please )?(?:do not|never)"
)
_US = r"(?:you|your company|you guys|you people|your people|your firm|anyone|anybody)"
# "...calls go to voicemail and never call back" says what others do; "do not" after
# "and" is still an order ("not interested, and do not call back").
_NOT_TOLD = r"(?:(?<!\band )(?<!\bbut )(?<!\bjust )|(?=(?:please )?do not\b))"
_OPT_OUT = compile_all(
    r"\b(?:take|remove|delete|drop|scratch|strike|get|cross) (?:me|us|my (?:phone )?number|"
    r"my name|my details|my info|my information|this number|our number|my contact)"
    r"(?: (?:off|out of|from))\b",
    r"\bremove (?:me|us|my (?:phone )?number|my name|this number|our number)\b",
    r"\bbe (?:taken|removed|deleted|struck|crossed) (?:off|out of|from)\b",
    rf"{_DO_NOT} (?:ever )?{_CONTACT_VERB} {_ME}{_REFUSAL_TAIL}",
    # "don't ring again", "don't call back": no one named, every call refused
    rf"{_NOT_TOLD}{_DO_NOT} (?:ever )?"
    rf"(?:{_CONTACT_VERB}|bother (?:calling|ringing|phoning|contacting))"
    rf"(?: (?:me|us))?(?: back| again| anymore| any more| ever)+{_REFUSAL_TAIL}",
    rf"\b(?:do not|never) want to (?:hear from {_US}|be (?:called|contacted|bothered|phoned)|"
    rf"get (?:a |another |any |more )?(?:phone )?calls?(?: from {_US})?)"
    rf"(?: again| anymore| any more| ever)*{_REFUSAL_TAIL}",
    rf"\b(?:asked|told) {_US}(?: \w+){{0,2}} (?:not to|to stop) (?:{_CONTACT_VERB}|calling)\b",
    rf"\bnever {_CONTACT_VERB} {_ME} again\b",
    rf"\b(?:rather|prefer(?: it)? if) you (?:did not|would not) (?:ever )?{_CONTACT_VERB}\b",
    # "the phones never stop ringing" is a busy office, not a refusal
    rf"(?<!never )(?<!not )\b(?:stop|quit|cease) {_CONTACT_VERB}(?:ing)? {_ME}\b",
    r"(?<!never )(?<!not )\b(?:stop|quit) (?:calling|contacting|phoning|texting|bothering)\b",
    r"\b(?:do not|no|dnc|d n c) call (?:list|registry|register)\b",
    r"\b(?:dnc|d n c) (?:list|registry|register)\b",
    r"\bunsubscribe\b",
    r"\bopt(?:ing)? (?:me |us )?out\b",
    r"\blose (?:my|this|our) number\b",
    r"\bno more (?:calls|phone calls)\b",
    # "we don't want any calls going to voicemail" is a need, not a refusal
    rf"\b(?:do not|never) want (?:any more |anymore |any |more |these |your |another )?"
    rf"(?:of (?:these|your|those|them) )?(?:phone )?calls(?: from {_US})?"
    rf"(?: again| anymore| any more| ever)*{_REFUSAL_TAIL}",
    r"\b(?:do not|never) want (?:you|anyone|anybody|your company) (?:to )?(?:call|calling|contact)",
    r"\bleave (?:me|us) alone\b",
)

# What is left of an opt-out when the phone line mangled it ("put me on your do not
# call please", "take me of your list", "stop calling"): too little to act on, enough to
# ask. Said about someone else ("we do not call them back") it is not one.
_MAYBE_OPT_OUT = compile_all(
    # not "...don't ring you about...": calling us is not being called
    rf"{_NOT_TOLD}{_DO_NOT} (?:\w+ )?(?:call|contact|ring|phone)\b(?! {_US}\b)",
    r"\bfrom your (?:\w+ )?(?:list|lists|database|records)\b",  # "take me off" lost
    r"\brather you\b(?: \w+){0,4} (?:anymore|any more)\b",  # "didn't call me" lost
    r"\bcall(?:ing)? (?:list|registry)\b",
    r"(?<!never )(?<!not )\b(?:stop|quit|cease) (?:\w+ )?(?:call|calling|contact|ringing)\b",
    r"\b(?:take|remove|get|delete|drop) (?:me|us|my \w+|this number|our number) "
    r"(?:\w+ )?(?:off|of|from|out)\b",
    r"\b(?:remove|delete) (?:me|us|my number|this number)\b",
    r"\b(?:opt|opted|unsubscribe\w*)\b",
    r"\bno more (?:\w+ )?calls?\b",
    r"\b(?:call|contact|ring) (?:me|us) (?:anymore|any more)\b",  # its "do not" lost
    r"\bdo not again\b",  # its verb lost
    # not "we do not want calls going to voicemail" (a need)
    r"\b(?:do not|never) want (?:\w+ ){0,3}calls?\b(?! (?:going|to|that|which|missed|go)\b)",
)

# --- asking for a person ---------------------------------------------------------------

_STRONG_TARGET = (
    r"(?:a |an |the |some |your |one of your )?(?:real |actual |live |human |normal )?"
    r"(?:person|human|human being|representative|rep|operator|agent|sales rep|salesperson|"
    r"sales person|sales representative|account manager|account executive|customer service|"
    r"member of (?:your|the) team|team member|real one|live one)\b"
)
# Someone on our side; "my manager" is the caller's own, a question of authority.
_THEIR_PERSON = (
    r"(?:your|a) (?:manager|supervisor|boss)|someone in charge|the person in charge|"
    r"(?:one of )?(?:your |the )?(?:sales (?:team|department|people|guys|reps?)|salespeople)|"
    r"someone (?:in|from) sales|sales"
)
_WEAK_TARGET = (
    r"(?:someone|somebody|anyone|anybody|your manager|a manager|the manager|your supervisor|"
    r"a supervisor|the supervisor|your boss|someone in charge|someone else|someone real)\b"
)
_ASK = (
    r"(?:can i|could i|may i|let me|i want to|i would like to|i would rather|i would prefer to|"
    r"is it possible to|i prefer to|can we|could we|please let me)"
)
_ASK_STRONG = _ASK[:-1] + r"|i need to|i have to|i must)"
_HUMAN = compile_all(
    rf"\b(?:can i|could i|may i) (?:get|have) {_STRONG_TARGET}(?! (?:call|email)s?\b)",
    rf"\b{_ASK_STRONG} (?:just |please |actually )?(?:talk|speak|chat) (?:to|with) "
    rf"{_STRONG_TARGET}",
    rf"\b{_ASK} (?:just |please |actually )?(?:talk|speak|chat) (?:to|with) {_WEAK_TARGET}",
    rf"\b{_ASK_STRONG} (?:just |please |actually )?(?:talk|speak|chat) (?:to|with) "
    rf"(?:{_THEIR_PERSON})\b",
    r"\b(?:is there|are there) (?:a |an |any |some )?(?:real |actual |live )?(?:person|human|"
    r"human being|people|humans|operator|representative|rep)\b"
    r"(?: (?:there|on the line|around|available|at all|i can|we can|who can|working))",
    r"\b(?:put|get) (?:a|an|the|some) (?:real |live |actual )?(?:human|person|human being|"
    r"manager|supervisor|rep|representative|agent|operator) on(?: the (?:line|phone))?\b",
    rf"\b(?:get|put|connect|transfer|patch|pass|send|forward|redirect) (?:me|us)"
    rf"(?: through| over| on)? (?:to|with) (?:{_STRONG_TARGET}|{_WEAK_TARGET})",
    r"\btransfer (?:me|us|my call|this call)\b",
    r"\bput (?:me|us) through\b",
    r"\bconnect (?:me|us)\b(?! later)",
    r"\b(?:is there|are there|is anyone|is there anybody|is there anyone|do you have|"
    r"have you got) (?:someone|somebody|anyone|anybody|a person|a human|a human being|"
    r"a real person|people|a manager|a supervisor|an agent|a rep|a representative|"
    r"a real one)?(?: else| real)? ?(?:there )?(?:i|we) (?:can|could|may) (?:talk|speak) "
    r"(?:to|with)\b",
    r"\b(?:get|give|put) me (?:your|a) (?:manager|supervisor|boss)\b",
    r"\b(?:i want|i would like|give me|get me|i need|i would prefer|i prefer|i demand) "
    r"(?:a |an |to get a )?(?:real |live |actual )(?:person|human|agent|representative|one)\b",
    r"\b(?:i want|i would like|give me|get me|i demand) (?:a |an )?"
    r"(?:human|person|representative|operator|agent|live agent|real agent|rep)\b"
    r"(?! (?:to|that|who|which|for|answering|handling)\b)",
    r"^(?:um |uh |hi |hello )?(?:representative|operator|agent|human|a human|a person|"
    r"live agent|real person|customer service|speak to (?:a |an )?(?:agent|person|human))"
    r"(?: please)?$",
)
# What is left of a request for a person on a bad line ("actual sales person", "a real
# per son", "human please"): too little to transfer on, enough to ask.
_MAYBE_HUMAN = compile_all(
    r"\b(?:real|actual|live|proper) (?:person|human|one|someone|somebody|people|per son)\b",
    r"\b(?:human|humans|human being|representative|operator|sales ?person|sales rep)\b"
    r"(?! (?:resources|error|nature|touch))",
    r"\b(?:talk|speak) to (?:a|an|some|your) (?:\w+ )?(?:person|someone|somebody)\b",
    r"\b(?:talk|speak) (?:to|with) (?:a|an|the|some) (?:real|actual|live)\b",  # its noun lost
    r"\b(?:someone|somebody) real\b",
    # "I'd rather talk to one of your sales people": whom to is what mishearing loses
    r"\b(?:i|we) would (?:rather|prefer to) (?:talk|speak)\b"
    r"(?! (?:about|later|to you|with you|another|some other|tomorrow|next|then)\b)",
)

# --- call me back later ----------------------------------------------------------------

_LATER = (
    r"(?P<when>later|another time|some other time|another day|some time|sometime|tomorrow|"
    r"next (?:week|month|quarter|year|time)|in (?:a|an|the|\w+)(?: \w+){0,2} (?:days?|weeks?|"
    r"months?|quarters?|years?|hours?|minutes?)|in q ?[1-4]|"
    r"(?:in|after|around) (?:early |late |mid )?(?:january|february|march|april|may|june|july|"
    r"august|september|october|november|december)|"
    r"after|around|closer to|when|"
    r"at the end|"
    r"toward|towards|in (?:the )?(?:new year|spring|summer|fall|autumn|winter)|this afternoon|"
    r"this evening|tonight|on \w+day|\w+day)\b"
)
_VAGUE_WHEN = frozenset({"later", "another time", "some other time", "another day", "some time",
                         "sometime", "after", "around", "when", "toward", "towards"})
_CALLBACK = compile_all(
    rf"\bcall (?:me|us) back (?:(?:sometime|some time|maybe|again|perhaps|like) )?{_LATER}",
    rf"\b(?:call|ring|try|phone) (?:me|us) (?:(?:back|sometime|maybe|again|perhaps) )*{_LATER}",
    r"\b(?:call|ring|phone) (?:me|us) back\b",
    rf"\bcall back {_LATER}",
    r"(?<!\bwe )(?<!\bthey )(?<!\bi )(?<!\bto )\b(?:call|ring|try) (?:back )?"
    r"(?:later|another time|some other time|another day)\b",
    r"\breschedule (?:this|the|our)? ?(?:call|conversation|chat)\b",
    r"\b(?:can|could|would) you (?:call|ring|try) (?:back|again)\b",
    rf"\bgive (?:me|us) a (?:call|ring|shout)(?: back)? {_LATER}",
    rf"\b(?:try|reach|catch|ring|contact|call|phone|ping|email|text|follow up with|"
    rf"check in with|circle back with) (?:me|us)(?: again)? {_LATER}",
    rf"\b(?:follow up|check back|check in|circle back|get back to me|get back to us|reach out|"
    rf"reconnect|touch base|catch up)(?: with (?:me|us))?(?: again)? {_LATER}",
    rf"\blet us (?:talk|speak|chat|reconnect|catch up|touch base|pick (?:this|it) up|"
    rf"revisit (?:this|it)|continue(?: this)?) {_LATER}",
    r"\bnot (?:a |the )?(?:good|great|convenient|great|right|best) time\b",
    r"\b(?:bad|busy|inconvenient|terrible|awkward) time\b",
    r"\bi am (?:kind of |a bit |really |very |just )?(?:busy|driving|in a meeting|on the road|"
    r"with a (?:customer|client|patient)|about to|in the middle of|at work)\b",
    # "can we do this Wednesday?" is a callback; "can we do Wednesday?" proposes a time
    rf"\b(?:can|could) (?:we|you) (?:do|talk about|discuss|continue|pick up|finish) "
    rf"(?:this|it|that) {_LATER}",
    rf"\b(?:can|could) (?:we|you) (?:talk about|discuss|continue|pick up|finish) {_LATER}",
    r"\b(?:can|could) (?:we|you) do (?:this |it |that )?(?:later|another time|some other time|"
    r"another day)\b",
    r"\b(?:another|some other|a better) (?:time|day)\b",
    r"\blater (?:would be|is|works) better\b",
    r"^(?:um |uh |well |oh )?(?:maybe|perhaps|possibly|try) (?:later|another time)(?: then)?$",
)

# --- declining -------------------------------------------------------------------------

_NOT_INTERESTED = compile_all(
    r"\b(?:not|no longer|never)\b(?: \w+){0,4}? interested\b",
    r"\buninterested\b",
    r"\bno interest\b",
    r"\bnot for (?:me|us)\b",
    r"\b(?:i will|we will|i would|we would|i am going to|we are going to|i think i will|"
    r"i think we will|going to) pass\b",
    r"\bpass on (?:this|that|it)\b",
    r"\bnot (?:looking|shopping|in the market) (?:for|to)\b",
    r"\b(?:not|never) (?:buying|going to buy)\b",
    r"\bnot my thing\b",
)
_BRUSH_OFF = re.compile(
    r"^(?:well |honestly |no |nah |thanks |actually )*(?:we are|we are all|i think we are) "
    r"(?:all set|covered|sorted|good|fine|okay)(?: thanks| thank you)?$"
)

# --- answering machines ----------------------------------------------------------------

_VOICEMAIL = compile_all(
    r"(?<!\bwe )(?<!\bi )(?<!\bthey )\b(?:is|are) (?:currently |not currently )?"
    r"(?:not available|unavailable)\b",
    r"\bleave (?:a|your|me a|us a) (?:brief |short |detailed |quick )?"
    r"(?:message|voice mail|name|number)\b",
    r"\b(?:after|at) the (?:tone|beep|signal)\b",
    r"\brecord (?:your|a) message\b",
    r"\bmailbox\b",
    r"\b(?:reached|this is) (?:the )?voice mail\b",
    r"\bvoice mail (?:of|for|box|greeting)\b",
    r"\banswering machine\b",
    r"\b(?:can not|unable to|not able to|could not) (?:take|answer|get to) your call\b",
    r"\b(?:can not|unable to|not able to|could not) come to the phone\b",
    r"\bthe (?:person|party|number|subscriber|customer) you (?:are|have) "
    r"(?:trying to reach|calling|called|dialed|dialled)\b",
    r"\bwhen you (?:are|have) (?:finished|done) recording\b",
    r"\bpress (?:pound|hash)\b",
)

# "You have reached ..." opens answering machines and people answering a phone alike;
# a person then speaks to the caller.
_REACHED = re.compile(r"\byou have reached\b")
_LIVE_ANSWER = compile_all(
    r"\bwho (?:is|am i) (?:this|calling|speaking|it|talking)\b",
    r"\b(?:how|what) (?:can|may|could) (?:i|we) (?:help|do for you|assist)\b",
    r"\bhow (?:are|is) (?:you|it going)\b",
    r"\bspeaking\b",
    r"\bwhat is (?:this|it) (?:about|regarding)\b",
)

# --- closing and repeats ---------------------------------------------------------------

_CORRECTION = compile_all(
    r"\b(?:wrong|incorrect|not (?:right|correct|it|what i said|what i meant))\b",
    r"\b(?:i said|i meant|i did not say)\b",
)

_CLOSING = compile_all(
    r"\b(?:that is|that will be|that would be|that should be|i think that is) "
    r"(?:all|it|everything)\b",
    r"\bnothing (?:else|more|further)\b",
    r"\bno (?:more|other|further) questions\b",
    r"\b(?:good ?bye|bye|bye bye|farewell|see you|see ya|cheers)\b",
    r"\bhave a (?:good|nice|great|lovely|wonderful) (?:day|one|evening|afternoon|weekend|night)\b",
    r"\b(?:talk|speak) to you (?:soon|later)\b",
    r"^(?:okay |ok |all right |great |thanks |thank you )*(?:talk|speak) soon\b",
    r"\btake care\b",
    r"\bi (?:have to|need to|got to|must) (?:go|run|get going)\b",
    r"\b(?:i am|we are|i think i am|i think we are) (?:all )?(?:done|set|good)"
    r"(?: here| now| thanks| thank you)?$",
    r"\bthat is all i (?:needed|wanted|had)\b",
    r"\bthat (?:about |should |pretty much )?covers? (?:it|everything)\b",
)
_REPEAT = compile_all(
    r"\brepeat(?: (?:that|it|this|the question|yourself|please|again|what you said))?$",
    r"\b(?:can|could|would|will) you (?:please )?repeat\b",
    r"\bsay (?:that|it|this|the question) again\b",
    r"\bsay again\b",
    r"\bcome again\b",
    r"\bpardon\b",
    r"\bwhat (?:was|is) (?:that|the question)\b",
    r"\bwhat did you (?:just )?say\b",
    r"\b(?:did not|can not|could not|do not) (?:quite )?(?:catch|hear|understand) "
    r"(?:that|you|what you said|the question|what you just said)\b",
    r"\b(?:you are|you were) (?:breaking up|cutting out)\b",
    r"\byou cut out\b",
    r"\bone more time\b",
    r"\bi missed (?:that|what you said)\b",
    r"^(?:sorry |um |uh |huh |eh |oh )*(?:what|huh|eh|sorry|excuse me|sorry what|what was that)"
    r"(?: again)?$",
)

# --- who are you / why are you calling / are you a bot ----------------------------------

_ASKS_PURPOSE = compile_all(
    r"\bwhat (?:is|was) (?:this|it|this call|the call) (?:about|regarding|for|in regards to)\b",
    r"\bwhat (?:do|did) you (?:want|need|sell|do|guys do)\b",
    r"\bwhy (?:are|were|did) you (?:calling|call)\b",
    r"\bwhat (?:are|were) you calling (?:about|for)\b",
    r"\bwhat is (?:this|it) regarding\b",
    r"\bwho (?:are you|is this|is calling|is speaking|is it|am i (?:speaking|talking) "
    r"(?:to|with)|do you (?:work for|represent)|are you with)\b",
    r"\bwhat (?:company|is your company|is your name|is the company)\b",
    r"\bwhere are you calling from\b",
    r"\bis this (?:a |another )?(?:sales|marketing|telemarketing|cold|spam) call\b",
    r"\bare you (?:selling|trying to sell) (?:something|anything)\b",
)
_ASKS_IF_AI = compile_all(
    r"\bare you (?:a |an )?(?:robot|bot|machine|computer|ai|artificial|real person|real|human|"
    r"person|recording|automated|actual person)\b",
    r"\bis this (?:a |an )?(?:robot|bot|recording|machine|computer|real person|automated|ai)\b",
    r"\bam i (?:talking|speaking) (?:to|with) (?:a |an )?(?:robot|bot|machine|computer|ai|"
    r"real person|person|human)\b",
)

# --- "hold on" and questions --------------------------------------------------------------

_WAIT = compile_all(
    r"\b(?:hold on|hang on|one (?:second|sec|moment|minute)|just a (?:second|sec|moment|minute)|"
    r"give me a (?:second|sec|moment|minute)|bear with me|wait a (?:second|sec|moment|minute)|"
    r"(?:can|could) you (?:hold|wait)(?: on)?(?: for)?(?: a| one)? ?(?:second|sec|moment|minute)?)"
    r"\b",
)
_QUESTION_START = re.compile(
    r"^(?:um |uh |so |and |but |okay |well )*(?:how|what|why|when|where|who|which|can you|"
    r"could you|do you|does it|does this|is it|is there|are you|will it|would it|how much|"
    r"can i|could i|do i|do we|does that|is that|are there|will that|would that|"
    r"i was wondering|i wanted to ask|i have a question|one question|quick question)\b"
)

# --- proposing another meeting time -------------------------------------------------------

# A caller answering our proposed time with another ("how about Thursday?", "can we make it
# later in the week?", "I'd prefer the afternoon"): a time to confirm, never a callback.
# These ask for another time in words of their own ...
_OTHER_TIME = compile_all(
    r"\b(?:a (?:bit|little|touch) |slightly |bit |much )?(?:earlier|later) in the "
    r"(?:day|week|morning|afternoon|month)\b",
    r"\b(?:a (?:bit|little|touch)|slightly|bit|something|anything|sometime|some time) "
    r"(?:earlier|later|sooner)\b",
    r"\b(?:another|a different|other|a later|an earlier) (?:day|time|slot|date|times|days|slots)\b",
    r"\b(?:what|which) (?:else|other (?:times|days|slots)) (?:do|can|have|is|are)\b",
    r"\b(?:do you have|have you got|is there) (?:anything|something|any (?:other )?"
    r"(?:times?|slots?|openings?|availability))\b",
)
# ... these only next to a word of time ("how about later?", not "how about the price?").
_COUNTER_CUE = compile_all(
    r"\b(?:how|what) about\b",
    r"\binstead\b",
    r"\bany chance (?:of|we could|you could|for|on)\b",
    r"\b(?:can|could|would|shall|should) (?:we|you|i) (?:do|make it|move it|push it|switch it|"
    r"change it|shift it|bump it|try|go for|go with|book it|book|schedule it|have it|say)\b",
    r"\b(?:would|could|does|will|is) (?:\w+ ){1,4}(?:work|suit you|be (?:better|possible|okay|"
    r"fine|free|available|open))\b",
    r"\b(?:i would|i had|we would) (?:prefer|rather|like)\b|\b(?:i|we) prefer\b|\bpreferably\b",
    r"\b(?:works|suits|is|would be) better\b|\bbetter for (?:me|us)\b",
)
_CONTACT_ME = re.compile(
    r"\b(?:call|ring|phone|try|reach|catch|contact|ping|email|text) (?:me|us)\b|"
    r"\bgive (?:me|us) a (?:call|ring|shout)\b|\bcall back\b"
)
_TIME_WORD = re.compile(
    r"\b(?:earlier|later|sooner|week|weekend|morning|afternoon|evening|lunch|lunchtime|noon|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|tomorrow|tonight|oclock|"
    r"am|pm)\b"
)

# --- "send me some information" -----------------------------------------------------------

# A caller who would rather read than talk now ("can you just send me some information",
# "email me the details", "do you have a website?"). Only a request *to us* counts: "we
# send a lot of information to clients" and "they email me brochures all day" are needs,
# so the verb must open a request ("can you ...", "please ...", a bare imperative) and be
# followed by "me"/"us" and something to read.
_SEND = r"(?:send|email|e mail|text|mail|forward|shoot|drop)"
_READING = (
    r"(?:(?:some|more|any|the|a|an|your|that|this|a few|a bit of|a little|some more|further|"
    r"additional|basic|general|some of the|all the|quick|short|brief|written)\s+)*"
    r"(?:info|information|details|brochures?|literature|materials?|documentation|overview|"
    r"summary|one pager|pamphlet|leaflet|links?|website|web site|url|e ?mails?|something|"
    r"stuff|write up|deck|case stud(?:y|ies)|pdf|fact sheet|spec sheet|white paper|"
    r"information pack|info pack|more about (?:it|this|you|that|your \w+))\b"
)
# What may open a request: "can you", "please", "just", "maybe you could", "I'd rather
# you" ... or the start of the sentence, after a filler or a yes/no.
_REQUEST_OPENING = (
    r"(?:(?:^|\b(?:can|could|would|will) you|\bplease|\bjust|\bif you (?:can|could)|"
    r"\byou (?:can|could)(?: just)?|\bwhy (?:do not|not) you|\bhow about you|\bmaybe you could|"
    r"\b(?:i|we) would (?:rather|prefer|like)(?: it if)? you(?: to)?|\b(?:i|we) want you to|"
    r"\b(?:i|we) (?:would )?(?:rather|prefer) you(?: to)?|\binstead)"
    r"(?: (?:just|please|maybe|perhaps|possibly|simply|quickly|kindly|actually|instead))*"
    r"|^(?:(?:um|uh|oh|well|so|and|but|yeah|yes|yep|okay|sure|look|listen|honestly|actually|"
    r"hey|no|hmm|then|instead|maybe|just|please) )+)"
)
_WANTS_INFO = compile_all(
    # "can you just send me some information", "email me the details", "text us a link"
    rf"{_REQUEST_OPENING} ?{_SEND} (?:me|us)(?: (?:over|across|through))? {_READING}",
    rf"^{_SEND} (?:me|us)(?: (?:over|across|through))? {_READING}",
    # "just text me", "email me instead", "please email us"
    rf"(?:{_REQUEST_OPENING} ?|^)(?:text|email|e mail) (?:me|us)(?: (?:instead|please|then|"
    rf"it|that|the link|thanks|thank you))*$",
    # "send it over in writing", "put it in an email", "can I get something in writing"
    r"\b(?:send|put|get|have) (?:it|that|this|something|everything|the details|some details|"
    r"the information|the info|them) (?:over )?(?:in writing|in an e ?mail|in a text|"
    r"over e ?mail|by e ?mail|by text|over text|via e ?mail|via text)\b",
    rf"{_REQUEST_OPENING} ?send (?:it|that|something|some stuff|the details|them|the info|"
    rf"the information) over\b",
    # "I'd rather read about it first", "I'd prefer to look it over", "let me read up on it"
    r"\b(?:i|we) would (?:rather|prefer to|like to|sooner|prefer|just like to|want to) "
    r"(?:just |first )?(?:read|look|have a look|take a look|look it over|see it in writing|"
    r"get (?:it|something|the details) in writing|check it out online|look it up)"
    r"(?: (?:about|up on|into|over|through|at|more about) (?:it|this|that|you|your \w+|"
    r"something|the details|some information))?"
    r"(?: (?:first|myself|online|on my own|in my own time|later|before|in writing))*$",
    r"\b(?:i|we) would (?:rather|prefer|like)(?: to)? (?:get |have |receive )?"
    r"(?:an e ?mail|a text|a brochure|something in writing|something to read|some reading|"
    r"the details in writing|some information|some info|more information|more info)"
    r"(?: (?:first|instead|please|thanks|thank you))*$",
    r"\b(?:let me|can i|could i|i will|i need to|i want to|i would need to) (?:just |first )?"
    r"read (?:about it|up on (?:it|you|this)|more about (?:it|you|this)|something about "
    r"(?:it|you|this)|about you|about this)(?: (?:first|online|somewhere))*\b",
    # "do you have a website?", "what's your website?", "is there a brochure?"
    r"\b(?:do you|do you guys|do you all|does your company|have you got) have (?:a |an |any )?"
    r"(?:website|web site|url|brochure|brochures|link|information|info|literature|"
    r"something (?:i|we) (?:can|could) (?:read|look at))\b",
    r"\b(?:do you|do you guys|does your company) have (?:some |any )?(?:information|info|"
    r"details|literature|materials?) (?:you|that you|i|we) (?:can|could) (?:send|email|text|"
    r"read|look at)\b",
    r"\bwhat is (?:your|the) (?:website|web site|url|web address|site)\b",
    r"\bis there (?:a |an )?(?:website|web site|brochure|link)\b",
    r"\bwhere can (?:i|we) (?:read|learn|find out|find|see) more\b",
    r"\b(?:can|could|may) (?:i|we) (?:get|have|see) (?:some |more |the |a |your )?"
    r"(?:information|info|details|brochure|link|website|web site|something in writing|"
    r"literature) (?:first|please|instead|sent|emailed|texted|by e ?mail|by text)\b",
    r"\b(?:can|could|may) (?:i|we) (?:get|have) (?:some |more |the |a |your )?"
    r"(?:information|info|details|brochure|link|website|web site|something in writing|"
    r"literature)(?: please| first| instead)*$",
)
# "Don't send me anything", "no need to send me information", "you don't have to email us".
_NOT_WANTED = re.compile(
    r"\b(?:do not|never|no need to|not|stop|without|do not bother|no point|no reason to|"
    r"do not have to|do not need to|not going to|no more)\b(?: \w+){0,3}$"
)


# --- "not sure" ------------------------------------------------------------------------

_UNSURE = compile_all(
    r"\b(?:not (?:really |totally |entirely |quite |a hundred percent )?sure|unsure|no idea|"
    r"no clue|hard to say|difficult to say|tough to say|can not say|could not say|"
    r"(?:it )?depends|to be determined|tbd|not decided|undecided|have not decided|"
    r"have not figured|rather not say|prefer not to say|not at liberty|"
    r"(?:do not|does not|did not) (?:really )?know)\b",
)

def detect_affirmative(text: str) -> bool | None:
    """Yes (True), no (False) or neither (None); see `graph.understanding.yes_no`."""
    return yes_no.detect_affirmative(text)


def detect_opt_out(text: str) -> bool:
    return any(pattern.search(text) for pattern in _OPT_OUT)


def detect_maybe_opt_out(text: str) -> bool:
    """Part of an opt-out, as mangled recognitions leave it: worth asking about."""
    return any(pattern.search(text) for pattern in _MAYBE_OPT_OUT)


def sounds_like_opt_out(text: str) -> bool:
    """What is left of an opt-out whose words the line mangled, within a few letters
    ("look it's all up again": "call us again"); asked about only where the line reads
    as nothing else (`graph.understanding.caller_line`)."""
    return near_phrase(text, word_list("opt_out_remnants")) is not None


def detect_maybe_wants_human(text: str) -> bool:
    """Part of a request for a person, as a mangled recognition leaves it: worth asking."""
    if re.search(r"\b(?:are you|is this|am i talking to) (?:a |an )?(?:real|human|person)", text):
        return False
    return any(pattern.search(text) for pattern in _MAYBE_HUMAN)


def detect_wants_human(text: str) -> bool:
    if re.search(r"\b(?:are you|is this|am i talking to) (?:a |an )?(?:real|human|person)", text):
        return False  # a question about us, answered by `asks_if_ai`
    return any(pattern.search(text) for pattern in _HUMAN)


def detect_callback_later(text: str) -> tuple[bool, str | None]:
    """(asked to be called back later, when — "next quarter", "tomorrow" — if said)."""
    asked = False
    for pattern in _CALLBACK:
        for match in pattern.finditer(text):
            if negated_before(text, match.start(), window=2) or re.search(
                r"\b(?:do not|never|please do not)\s*$", text[: match.start()]
            ):
                continue
            asked = True
            when = match.groupdict().get("when")
            if when and when not in _VAGUE_WHEN:
                return True, when
    return asked, None


def detect_not_interested(text: str) -> bool:
    return any(pattern.search(text) for pattern in _NOT_INTERESTED)


def detect_brush_off(text: str) -> bool:
    """A bare "we're good" / "we're all set, thanks": no to whatever was offered."""
    return _BRUSH_OFF.match(text) is not None


def detect_voicemail_greeting(text: str) -> bool:
    """An answering machine's greeting. "You have reached Sam" alone is one, but not
    when a person goes on to talk to us ("you've reached Ines, who's this?")."""
    if any(pattern.search(text) for pattern in _VOICEMAIL):
        return True
    return bool(_REACHED.search(text)) and not any(p.search(text) for p in _LIVE_ANSWER)


def detect_correction(text: str) -> bool:
    """The caller says what we read back is wrong ("no, that's wrong", "I said two")."""
    return any(pattern.search(text) for pattern in _CORRECTION)


def detect_closing(text: str) -> bool:
    return any(pattern.search(text) for pattern in _CLOSING)


def detect_repeat_request(text: str) -> bool:
    return any(pattern.search(text) for pattern in _REPEAT)


def detect_asks_purpose(text: str) -> bool:
    return any(pattern.search(text) for pattern in _ASKS_PURPOSE)


def detect_asks_if_ai(text: str) -> bool:
    return any(pattern.search(text) for pattern in _ASKS_IF_AI)


def detect_asks_to_wait(text: str) -> bool:
    return any(pattern.search(text) for pattern in _WAIT)


def detect_question(raw: str, text: str) -> bool:
    """A question of the caller's own ("how much does it cost?")."""
    return raw.rstrip().endswith("?") or bool(_QUESTION_START.match(text))


def detect_contact_request(text: str) -> bool:
    """The caller names a call to them in so many words ("call me back", "ring us")."""
    return bool(_CONTACT_ME.search(text))


def detect_counter_proposal(text: str) -> bool:
    """The caller asks for another meeting time than the one proposed ("how about later
    in the day?"); "how about the price?" asks something else."""
    return any(p.search(text) for p in _OTHER_TIME) or (
        bool(_TIME_WORD.search(text)) and any(p.search(text) for p in _COUNTER_CUE)
    )


def detect_wants_info(text: str) -> bool:
    """The caller asks to be sent something to read (information, a link, the website)
    instead of talking now; said of someone else, or refused, it is not a request."""
    for pattern in _WANTS_INFO:
        for match in pattern.finditer(text):
            if not _NOT_WANTED.search(text[: match.start()] + " " + _lead_words(match.group())):
                return True
    return False


def _lead_words(matched: str) -> str:
    """The words a match opens with: "can you not send" keeps its "not" ("why don't
    you send" is no refusal)."""
    words = re.sub(r"^why (?:do not|not) you\b", "", matched).split()
    return " ".join(words[:3])


def detect_unsure(text: str) -> bool:
    return any(pattern.search(text) for pattern in _UNSURE)
