"""Turn pydantic's errors into one line per problem that names the field the way a human wrote it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError


def field_path(prefix: str, loc: tuple[int | str, ...]) -> str:
    path = prefix
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(root)"


def describe(exc: ValidationError, prefix: str = "") -> tuple[str, str]:
    """Return (first field path, all problems joined) for a ValidationError."""
    return describe_errors(exc.errors(include_url=False, include_input=False), prefix)


def describe_errors(errors: Iterable[Any], prefix: str = "") -> tuple[str, str]:
    problems = []
    first = ""
    for err in errors:
        path = field_path(prefix, tuple(err["loc"]))
        first = first or path
        message = err["msg"].removeprefix("Value error, ")
        problems.append(f"{path}: {message}")
    return first, "; ".join(problems)
