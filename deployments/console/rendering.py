"""How the console's pages are rendered: its Jinja2 templates (`templates/`) with HTML
autoescaping on, the filters that format call data for people (times, money,
milliseconds, shares), and where its links point."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from starlette.requests import Request
from starlette.templating import Jinja2Templates

TEMPLATES_DIR = Path(__file__).with_name("templates")


def console_templates() -> Jinja2Templates:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        # Callers' words are rendered into the pages: never as markup.
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        when=when, usd=usd, ms=ms, percent=percent, chart_json=chart_json
    )
    return Jinja2Templates(env=environment)


def console_root(request: Request) -> str:
    """Where the console is mounted, as the browser sees it (`/console`, or under a
    Serve route prefix such as a canary's `/canary/console`): every link starts here."""
    return request.scope.get("root_path", "").rstrip("/")


def when(value: str | None) -> str:
    """An ISO 8601 time as `2026-05-01 14:03:07 UTC` (the records are UTC)."""
    if not value:
        return "—"
    moment = datetime.fromisoformat(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S") + (" UTC" if moment.utcoffset() is not None
                                                    else "")


def usd(value: float | None) -> str:
    if value is None:
        return "—"
    # Calls cost fractions of a cent per part: four places say something, two would not.
    return f"${value:,.4f}"


def ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} ms"


def percent(value: float | None, places: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{places}f} %"


def chart_json(spec: dict[str, Any]) -> Markup:
    """A chart's data for a `<script type="application/json">` block: `<`, `>` and `&`
    escaped so no text in it (a variant's name) can close the block."""
    text = json.dumps(spec, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)
