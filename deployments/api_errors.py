"""How the API refuses a request: a JSON `{"error": "..."}` body saying why, with its
status code (the shape `deployments/data/openapi.yaml` documents as `Error`)."""

from __future__ import annotations

from pydantic import ValidationError
from starlette.responses import JSONResponse


def api_error(message: str, status_code: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status_code)


def validation_problems(exc: ValidationError, whole: str) -> str:
    """Each problem pydantic found, as `field: message`; `whole` names the input when a
    problem is with all of it (`body`, `query`)."""
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or whole}: {error['msg']}"
        for error in exc.errors()
    )
