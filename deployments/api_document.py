"""The ingress's OpenAPI document (`deployments/data/openapi.yaml`), served at
`GET /openapi.json`: the reference for `/v1`, the Twilio routes and health."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

DOCUMENT = Path(__file__).with_name("data") / "openapi.yaml"


@functools.cache
def api_document() -> dict[str, Any]:
    """The document, read once per process."""
    return yaml.safe_load(DOCUMENT.read_text())


async def serve_api_document(request: Request) -> Response:
    # Public, like any API reference: it describes routes and shapes, never secrets.
    return JSONResponse(api_document())
