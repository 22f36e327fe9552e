"""Every API error is `{"error": "…"}` in French with a 4xx status: never FastAPI's 422 `{"detail": …}`."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

DEFAULT_MESSAGES = {404: "adresse inconnue", 405: "méthode non autorisée sur cette adresse"}

# pydantic's error types, as a person reading the error would want them explained
VALIDATION_HINTS = {
    "int_parsing": "nombre entier attendu",
    "int_type": "nombre entier attendu",
    "greater_than_equal": "valeur trop petite (au moins {ge})",
    "less_than_equal": "valeur trop grande (au plus {le})",
    "string_pattern_mismatch": "valeur non autorisée",
    "missing": "paramètre obligatoire",
}


class ApiError(HTTPException):
    pass


def error(status: int, message: str) -> ApiError:
    return ApiError(status_code=status, detail=message)


def _json(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status,
                        headers={"WWW-Authenticate": "Bearer"} if status == 401 else None)


def explain(errors: Any) -> str:
    """The first validation error as « limit : nombre entier attendu »."""
    first = errors[0] if errors else {}
    name = str(first.get("loc", ("", "paramètre"))[-1])
    hint = VALIDATION_HINTS.get(first.get("type", ""), "valeur invalide")
    try:
        hint = hint.format(**(first.get("ctx") or {}))
    except (KeyError, IndexError):
        hint = "valeur invalide"
    return f"{name} : {hint}"


def install(api: FastAPI) -> None:
    @api.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc, ApiError) else DEFAULT_MESSAGES.get(exc.status_code, "requête refusée")
        return _json(exc.status_code, str(message))

    @api.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return _json(400, explain(exc.errors()))
