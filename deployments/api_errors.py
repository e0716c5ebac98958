"""How the API refuses a request: a JSON `{"error": "..."}` body saying why, with its
status code (the shape `deployments/data/openapi.yaml` documents as `Error`)."""

from __future__ import annotations

import asyncpg
from pydantic import ValidationError
from starlette.responses import JSONResponse

# PostgreSQL away or failing: the request may be tried again, so 503.
DATABASE_ERRORS: tuple[type[Exception], ...] = (
    OSError, asyncpg.PostgresError, asyncpg.InterfaceError,
)


def api_error(message: str, status_code: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status_code)


def records_unavailable(what: str, exc: Exception) -> JSONResponse:
    """503: `what` (e.g. "call records") could not be read or written."""
    return api_error(f"{what} unavailable: {exc!r}", 503)


def validation_problems(exc: ValidationError, whole: str) -> str:
    """Each problem pydantic found, as `field: message`; `whole` names the input when a
    problem is with all of it (`body`, `query`)."""
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or whole}: {error['msg']}"
        for error in exc.errors()
    )
