"""The CSV lead list of a campaign (`switchboard.lead_import`): rows rejected one by one
with the reasons of DESIGN.md, the file refused as a whole only when it is no lead list,
time zones from the file or the number, and the campaign settings' calling window."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from switchboard.lead_import import (
    LeadFileError,
    e164,
    parse_leads,
    time_zone_of,
    time_zones_of,
)
from switchboard.settings import CampaignSettings, calling_window


def leads_of(text: str, max_leads: int = 1000):
    return parse_leads(text.encode(), max_leads=max_leads)


def test_bad_rows_are_reported_by_data_row_and_the_rest_load() -> None:
    result = leads_of(
        "number,name,company,plan\n"
        "+1 (212) 555-0100,Ada,Acme,gold\n"  # row 1
        "+12125550100,Ada again,Acme,\n"  # row 2: the same number, formatted otherwise
        "555-0101,Bo,,\n"  # row 3: no country code
        ",Cy,,\n"  # row 4
        "+1212555010,Di,,\n"  # row 5: a digit short
        "+15550100001,Ed,Beta,silver\n"  # row 6: fictional, but a possible number
    )
    assert [(r.row, r.number, r.reason) for r in result.rejected] == [
        (2, "+12125550100", "duplicate"),
        (3, "555-0101", "invalid_number"),
        (4, "", "missing_number"),
        (5, "+1212555010", "invalid_number"),
    ]
    assert [(lead.row, lead.number) for lead in result.leads] == [
        (1, "+12125550100"),
        (6, "+15550100001"),
    ]
    ada = result.leads[0]
    assert (ada.name, ada.company, ada.data) == ("Ada", "Acme", {"plan": "gold"})
    assert result.rejected[0].as_json() == {
        "row": 2, "number": "+12125550100", "reason": "duplicate"
    }


def test_time_zones_come_from_the_file_else_from_the_number() -> None:
    result = leads_of(
        "Number,TimeZone\n"  # known columns in any case
        "+12125550100,\n"
        "+14155550100,America/Chicago\n"
        "+442071838750,\n"
        "+15550100001,\n"  # a fictional number has no zone
        "+18005550100,\n"  # toll-free: the whole continent, so no one zone
    )
    assert [lead.timezone for lead in result.leads] == [
        "America/New_York", "America/Chicago", "Europe/London", None, None,
    ]
    assert time_zone_of("+442071838750") == "Europe/London"
    assert len(time_zones_of("+18005550100")) > 1 and time_zones_of("+15550100001") == ()


def test_blank_lines_are_not_rows_and_a_bom_is_not_part_of_the_header() -> None:
    result = parse_leads(b"\xef\xbb\xbfnumber\r\n\r\n+12125550100\r\n\r\n12\r\n", max_leads=5)
    assert [lead.row for lead in result.leads] == [1]
    assert [(r.row, r.reason) for r in result.rejected] == [(2, "invalid_number")]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"", "empty"),
        (b"name,company\nAda,Acme\n", "no `number` column"),
        (b"number\n", "no leads"),
        (b"number,plan,plan\n+12125550100,a,b\n", "plan more than once"),
        (b"number,,x\n+12125550100,a,b\n", "column 2 has no name"),
        (b"number\n+12125550100,extra\n", "row 1 have more fields"),
        (b"number\n\xff\xfe\n", "not UTF-8"),
        (b"number,timezone\n+12125550100,Mars/Olympus\n", "row 1: `timezone` is not an IANA"),
        (b"number\n+12125550100\n+12125550101\n+12125550102\n", "at most 2"),
    ],
)
def test_a_file_that_is_no_lead_list_is_refused_saying_why(body: bytes, says: str) -> None:
    with pytest.raises(LeadFileError, match=says.replace("`", ".")):
        parse_leads(body, max_leads=2)


_NUMBERS = st.one_of(
    st.sampled_from(["+12125550100", "+1 212 555 0101", "+442071838750", "+15550100001"]),
    st.sampled_from(["", "12", "+1", "not a number", "+999123", "2125550100"]),
    st.text(alphabet="+0123456789 -()", max_size=18),
)


@given(st.lists(_NUMBERS, min_size=1, max_size=25))
def test_every_row_either_loads_once_or_is_rejected_with_one_reason(numbers: list[str]) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["number", "name"])
    for i, number in enumerate(numbers):
        writer.writerow([number, f"lead {i}"])
    result = parse_leads(out.getvalue().encode(), max_leads=1000)
    rows = sorted([lead.row for lead in result.leads] + [r.row for r in result.rejected])
    assert rows == list(range(1, len(numbers) + 1))
    loaded = [lead.number for lead in result.leads]
    assert len(loaded) == len(set(loaded))  # a number loads at most once
    for lead in result.leads:
        assert e164(lead.number) == lead.number and lead.name == f"lead {lead.row - 1}"
    for rejection in result.rejected:
        written = numbers[rejection.row - 1].strip()
        expected = (
            "missing_number" if not written
            else "invalid_number" if e164(written) is None
            else "duplicate"
        )
        assert rejection.reason == expected and rejection.number == written


def test_the_calling_window_is_checked() -> None:
    assert calling_window("08:00-21:00")[1].hour == 21
    assert CampaignSettings(window="09:30-17:00").calling_window()[0].minute == 30
    for bad in ("21:00-08:00", "8-21", "08:00", "08:00-25:00"):
        with pytest.raises(ValidationError):
            CampaignSettings(window=bad)
