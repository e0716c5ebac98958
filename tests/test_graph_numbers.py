"""Spoken numbers: words to values and values back to words."""

from __future__ import annotations

import pytest

from graph.understanding.numbers import amount_to_words, find_numbers, number_to_words, parse_number


@pytest.mark.parametrize(
    ("spoken", "value"),
    [
        ("zero", 0),
        ("seven", 7),
        ("nineteen", 19),
        ("forty two", 42),
        ("a hundred", 100),
        ("one hundred and five", 105),
        ("twenty five hundred", 2500),
        ("nineteen hundred", 1900),
        ("a thousand", 1000),
        ("fifty thousand", 50_000),
        ("seventy-five thousand", 75_000),
        ("one hundred thousand", 100_000),
        ("a hundred and twenty thousand", 120_000),
        ("three hundred and fifty thousand", 350_000),
        ("two thousand five hundred", 2500),
        ("one million two hundred thousand", 1_200_000),
        ("half a million", 500_000),
        ("a half million", 500_000),
        ("a quarter million", 250_000),
        ("a quarter of a million", 250_000),
        ("one and a half million", 1_500_000),
        ("a million and a half", 1_500_000),
        ("two point five million", 2_500_000),
        ("one point two five million", 1_250_000),
        ("fifteen grand", 15_000),
        ("seventy five k", 75_000),
        ("a couple of thousand", 2000),
        ("a few hundred", 300),
        ("two dozen", 24),
        ("50000", 50_000),
        ("20 thousand", 20_000),
        ("1.5 million", 1_500_000),
    ],
)
def test_spoken_numbers_are_read_as_their_value(spoken: str, value: float) -> None:
    assert parse_number(spoken) == pytest.approx(value)


@pytest.mark.parametrize("text", ["a budget", "and", "hundred", "the team", ""])
def test_words_that_are_not_a_number_read_as_none(text: str) -> None:
    assert parse_number(text) is None


def test_consecutive_tens_are_separate_numbers_like_a_spoken_year() -> None:
    values = [n.value for n in find_numbers(["twenty", "twenty", "six"])]
    assert values == [20, 26]


def test_a_trailing_and_belongs_to_the_sentence() -> None:
    numbers = find_numbers(["fifty", "thousand", "and", "we", "are", "done"])
    assert [(n.value, n.end) for n in numbers] == [(50_000, 2)]


def test_articles_count_as_one_only_when_asked_for() -> None:
    tokens = ["in", "a", "month", "or", "two"]
    assert [n.value for n in find_numbers(tokens)] == [2]
    assert [n.value for n in find_numbers(tokens, articles=True)] == [1, 2]


def test_half_a_year_is_half_of_one_unit() -> None:
    (number,) = find_numbers(["half", "a", "year"], articles=True)
    assert number.value == 0.5 and number.end == 2


def test_the_scale_of_a_number_is_reported_for_ranges() -> None:
    low, high = find_numbers(["twenty", "to", "thirty", "thousand"])
    assert (low.scale, high.scale) == (1, 1000)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (0, "zero"),
        (13, "thirteen"),
        (42, "forty two"),
        (100, "one hundred"),
        (999, "nine hundred ninety nine"),
        (20_000, "twenty thousand"),
        (120_000, "one hundred twenty thousand"),
        (1_000_000, "one million"),
        (2.5, "two point five"),
    ],
)
def test_numbers_are_spoken_as_words(value: float, words: str) -> None:
    assert number_to_words(value) == words


@pytest.mark.parametrize(
    ("usd", "words"),
    [
        (50_000, "fifty thousand dollars"),
        (2_500_000, "two point five million dollars"),
        (1_000_000, "one million dollars"),
        (15_500, "fifteen thousand five hundred dollars"),
    ],
)
def test_amounts_are_spoken_the_way_people_say_them(usd: float, words: str) -> None:
    assert amount_to_words(usd) == words


def test_words_and_back_round_trip() -> None:
    for value in (7, 68, 405, 12_345, 700_000, 3_000_017):
        assert parse_number(number_to_words(value)) == value
