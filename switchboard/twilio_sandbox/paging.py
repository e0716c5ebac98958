"""A page of a Twilio list resource (`GET Calls.json`, `GET Messages.json`), with
Twilio's paging keys (`PageSize`, `Page`, `next_page_uri`, ...)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def list_page(
    name: str, found: list[dict[str, Any]], path: str, query: dict[str, str]
) -> dict[str, Any]:
    """The page `query` asks for of `found` (the resources, in list order), under `name`."""
    try:
        size = min(max(int(query.get("PageSize", DEFAULT_PAGE_SIZE)), 1), MAX_PAGE_SIZE)
        number = max(int(query.get("Page", 0)), 0)
    except ValueError:
        size, number = DEFAULT_PAGE_SIZE, 0
    start = number * size
    records = found[start:start + size]
    filters = {k: v for k, v in query.items() if k not in ("Page", "PageSize", "PageToken")}

    def uri(page: int) -> str:
        return f"{path}?{urlencode({**filters, 'PageSize': size, 'Page': page})}"

    more = start + size < len(found)
    return {
        "end": start + max(len(records) - 1, 0),
        "first_page_uri": uri(0),
        name: records,
        "next_page_uri": uri(number + 1) if more else None,
        "page": number,
        "page_size": size,
        "previous_page_uri": uri(number - 1) if number > 0 else None,
        "start": start,
        "uri": uri(number),
    }
