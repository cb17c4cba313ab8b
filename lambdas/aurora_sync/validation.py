"""Turn pydantic's errors into one line per problem that names the field the way a human wrote it."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ValidationError

from aurora_sync.errors import ConfigError


def json_value(raw: str, source: str) -> Any:
    """`raw` parsed as JSON; a ConfigError naming `source` (a parameter) and where the JSON breaks."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        problem = f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        raise ConfigError(source, "(value)", problem) from None


def field_path(prefix: str, loc: tuple[int | str, ...]) -> str:
    path = prefix
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(root)"


def describe(exc: ValidationError, prefix: str = "", model: type[BaseModel] | None = None) -> tuple[str, str]:
    """Return (first field path, all problems joined) for a ValidationError.

    With `model`, a location given by attribute name is named by its alias instead: pydantic reports
    a validated default under the attribute name, but people set the alias (an environment variable).
    """
    errors = exc.errors(include_url=False, include_input=False)
    if model is not None:
        aliases = {name: f.alias for name, f in model.model_fields.items() if f.alias}
        errors = [
            {**e, "loc": (aliases.get(str(e["loc"][0]), e["loc"][0]), *e["loc"][1:])} if e["loc"] else e
            for e in errors
        ]
    return describe_errors(errors, prefix)


def describe_errors(errors: Iterable[Any], prefix: str = "") -> tuple[str, str]:
    problems = []
    first = ""
    for err in errors:
        path = field_path(prefix, tuple(err["loc"]))
        first = first or path
        message = err["msg"].removeprefix("Value error, ")
        problems.append(f"{path}: {message}")
    return first, "; ".join(problems)
