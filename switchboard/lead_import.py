"""A campaign's lead list: the CSV of `POST /v1/campaigns`, checked row by row.

The header names the columns. `number` is required; `name`, `company` and `timezone`
(an IANA name) are optional; any other column is kept, by its header, as the lead's
data. A row with a missing or invalid number, or a number an earlier row already has,
is rejected with its 1-based data row and a reason (DESIGN.md "Campaigns and
webhooks"); the rest load. Whether a number is on the do-not-call list is for the
database to say (`db.campaigns.create_campaign`), at import and again when dialling.

Problems of the file itself (not CSV, no `number` column, a time zone nobody knows)
are a `LeadFileError`: the whole upload is refused, saying where.

Numbers are E.164 and must say their country (`+1 212 555 0100`): no country is
guessed. A number of the right length for its country is accepted even if no operator
has it in service (the `+1 555 01XX` fictional range included): only dialling tells.
"""

from __future__ import annotations

import csv
import io
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final, Literal

import phonenumbers
from phonenumbers import timezone as phone_time_zones

RejectReason = Literal["invalid_number", "duplicate", "do_not_call", "missing_number"]

NUMBER, NAME, COMPANY, TIMEZONE = "number", "name", "company", "timezone"
KNOWN_COLUMNS: Final = (NUMBER, NAME, COMPANY, TIMEZONE)
# What phonenumbers answers for a number whose zone it does not know.
_UNKNOWN_ZONE: Final = "Etc/Unknown"
# A file problem names at most this many rows: enough to find the pattern.
_ROWS_NAMED: Final = 5


class LeadFileError(ValueError):
    """The file as a whole cannot be read as a lead list; the message says why."""


@dataclass(frozen=True)
class Lead:
    row: int
    number: str  # E.164
    name: str | None = None
    company: str | None = None
    timezone: str | None = None  # IANA; None when neither the file nor the number says
    data: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Rejection:
    row: int
    number: str  # as the file wrote it ("" when missing)
    reason: RejectReason

    def as_json(self) -> dict[str, object]:
        return {"row": self.row, "number": self.number, "reason": self.reason}


@dataclass
class LeadList:
    """The leads that may load, and the rows rejected so far, by row."""

    leads: list[Lead]
    rejected: list[Rejection]


def e164(number: str) -> str | None:
    """`number` in E.164 (`+12125550100`), or None if it is not a phone number with its
    country code and a length that country allows."""
    text = number.strip()
    if not text.startswith("+"):
        return None
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def time_zones_of(number: str) -> tuple[str, ...]:
    """The IANA zones the E.164 `number` may ring in (several for a country-wide or
    toll-free number; none for one phonenumbers does not place)."""
    zones = phone_time_zones.time_zones_for_number(phonenumbers.parse(number, None))
    return tuple(zone for zone in zones if zone != _UNKNOWN_ZONE)


def time_zone_of(number: str) -> str | None:
    """The zone of the E.164 `number` when the number alone settles it."""
    zones = time_zones_of(number)
    return zones[0] if len(zones) == 1 else None


def is_time_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def parse_leads(body: bytes, *, max_leads: int) -> LeadList:
    """The leads of the CSV `body`, and its rejected rows; `LeadFileError` if the file
    itself is wrong."""
    try:
        text = body.decode("utf-8-sig")  # spreadsheets often start UTF-8 with a BOM
    except UnicodeDecodeError as exc:
        raise LeadFileError(f"the file is not UTF-8 text (byte {exc.start})") from None
    records = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(records, None)
        if header is None:
            raise LeadFileError("the file is empty: it needs a header row with `number`")
        columns = _columns(header)
        rows = list(enumerate(_data_rows(records), start=1))
    except csv.Error as exc:
        raise LeadFileError(f"not a CSV file: {exc}") from None
    if not rows:
        raise LeadFileError("the file has a header but no leads")
    if len(rows) > max_leads:
        raise LeadFileError(f"{len(rows)} leads: at most {max_leads} per campaign")
    too_long = [row for row, values in rows if len(values) > len(columns)]
    if too_long:
        raise LeadFileError(
            f"{_rows(too_long)} have more fields than the header's {len(columns)} columns"
        )
    result = LeadList(leads=[], rejected=[])
    seen: set[str] = set()
    bad_zones: list[int] = []
    for row, values in rows:
        record = dict(zip(columns, [v.strip() for v in values], strict=False))
        written = record.get(NUMBER, "")
        number = e164(written) if written else None
        if not written:
            result.rejected.append(Rejection(row, written, "missing_number"))
        elif number is None:
            result.rejected.append(Rejection(row, written, "invalid_number"))
        elif number in seen:
            result.rejected.append(Rejection(row, written, "duplicate"))
        else:
            seen.add(number)
            zone = record.get(TIMEZONE) or None
            if zone is not None and not is_time_zone(zone):
                bad_zones.append(row)
            result.leads.append(
                Lead(
                    row=row,
                    number=number,
                    name=record.get(NAME) or None,
                    company=record.get(COMPANY) or None,
                    timezone=zone or time_zone_of(number),
                    data={k: v for k, v in record.items() if k not in KNOWN_COLUMNS},
                )
            )
    if bad_zones:
        # Calling hours depend on it: a guess could call someone at night.
        raise LeadFileError(
            f"{_rows(bad_zones)}: `timezone` is not an IANA time zone (e.g. America/Chicago)"
        )
    return result


def _columns(header: list[str]) -> list[str]:
    columns = []
    for position, raw in enumerate(header, start=1):
        name = raw.strip()
        if not name:
            raise LeadFileError(f"header column {position} has no name")
        # The known columns are matched whatever their case; others keep theirs.
        columns.append(name.lower() if name.lower() in KNOWN_COLUMNS else name)
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise LeadFileError(f"the header names {', '.join(duplicated)} more than once")
    if NUMBER not in columns:
        raise LeadFileError(f"the header has no `number` column (it has: {', '.join(columns)})")
    return columns


def _data_rows(records: Iterator[list[str]]) -> list[list[str]]:
    # A blank line is not a data row: it is neither counted nor reported.
    return [values for values in records if any(v.strip() for v in values)]


def _rows(rows: list[int]) -> str:
    named = ", ".join(str(r) for r in rows[:_ROWS_NAMED])
    more = f" and {len(rows) - _ROWS_NAMED} more" if len(rows) > _ROWS_NAMED else ""
    return f"row{'s' if len(rows) > 1 else ''} {named}{more}"
