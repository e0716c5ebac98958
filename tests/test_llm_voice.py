"""Replies shaped for the ear (`graph.workflow.voice`): what an LLM writes, made fit to speak."""

from __future__ import annotations

import re

import pytest

from graph.workflow.replies import Replies
from graph.workflow.voice import (
    SentenceStream,
    _optimize_for_voice,
    optimize_sentences,
    split_sentences,
)


def spoken(text: str, max_words: int = 200) -> str:
    return _optimize_for_voice(text, max_words)


def test_markdown_lists_and_headings_become_plain_sentences() -> None:
    text = "## Options\n**Great news!** Here is what we offer:\n- Answering *every* call\n" \
           "1. Qualifying leads\n> Booking meetings"
    assert spoken(text) == ("Options. Great news! Here is what we offer. Answering every call. "
                            "Qualifying leads. Booking meetings.")


def test_links_urls_and_emails_are_not_read_out() -> None:
    text = "See [our pricing](https://example.com/pricing) or https://example.com/faq. " \
           "Write to sales@example.com."
    result = spoken(text)
    assert "http" not in result and "://" not in result and "@" not in result
    assert result == "See our pricing or our website. Write to sales at example dot com."


@pytest.mark.parametrize(("text", "said"), [
    ("It costs $50,000 a year.", "It costs fifty thousand dollars a year."),
    ("Budgets start at $75k.", "Budgets start at seventy five thousand dollars."),
    ("The plan is $49.99.", "The plan is forty nine dollars and ninety nine cents."),
    ("Most teams save 20%.", "Most teams save twenty percent."),
    ("Shall we say Tuesday at 10:30am?", "Shall we say Tuesday at ten thirty in the morning?"),
    ("How about 3 p.m. on Wed.?", "How about three in the afternoon on Wednesday?"),
    ("Call at 9 a.m. Then we talk.", "Call at nine in the morning. Then we talk."),
    ("Your 1st call, our 22nd client.", "Your first call, our twenty second client."),
    ("We went live in 2024.", "We went live in twenty twenty four."),
    ("About 2-3 weeks, e.g. by March.", "About two to three weeks, for example by March."),
    ("Dial (555) 123-4567.", "Dial five five five, one two three, four five six seven."),
    ("We handle 1,200 calls & more.", "We handle one thousand two hundred calls and more."),
])
def test_numbers_money_and_times_are_said_in_words(text: str, said: str) -> None:
    result = spoken(text)
    assert result == said
    assert not re.search(r"\d", result)


def test_long_sentences_are_split_where_a_clause_ends() -> None:
    text = ("We answer every call around the clock for your whole team, and we qualify each "
            "lead before it reaches your sales people so nobody wastes time.")
    sentences = optimize_sentences(text, 200)
    assert len(sentences) == 2
    assert sentences[1].startswith("We qualify")
    assert all(len(sentence.split()) <= 20 for sentence in sentences)


def test_the_word_limit_drops_sentences_but_keeps_the_closing_question() -> None:
    text = ("Thanks for that. We help teams like yours every day. Our agents never sleep. "
            "They book meetings for you. When would you want this in place?")
    result = spoken(text, max_words=15)
    assert len(result.split()) <= 15
    assert result.endswith("When would you want this in place?")
    assert result.startswith("Thanks for that.")


def test_one_overlong_sentence_is_cut_at_the_limit() -> None:
    result = spoken("one two three four five six seven eight nine ten eleven twelve", 5)
    assert result == "One two three four five."


def test_the_templates_are_already_shaped_for_the_ear() -> None:
    for sentence in Replies(company="Switchboard", agent="Alex").every_sentence():
        assert spoken(sentence) == sentence, sentence


def test_sentences_split_after_end_marks_but_not_after_titles_or_initials() -> None:
    assert split_sentences("Dr. Smith will call at 10 a.m. tomorrow. Is that ok? Great!") == [
        "Dr. Smith will call at 10 a.m. tomorrow.", "Is that ok?", "Great!"]


def test_a_stream_hands_back_each_sentence_as_soon_as_it_is_complete() -> None:
    stream = SentenceStream()
    got = [stream.feed(piece) for piece in
           ["Sure", ", that", " works. We", "'ll book", " it. Does ten", " work?"]]
    assert got == [[], [], ["Sure, that works."], [], ["We'll book it."], []]
    assert stream.flush() == ["Does ten work?"]
    assert stream.flush() == []
