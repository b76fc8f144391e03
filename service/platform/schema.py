"""The API contract in code: pydantic models of request bodies, query strings and responses, declared once
per view with :func:`operation`, that both check input and make ``/api/v1/openapi.json``.

A view declares ``@operation(body=TriageBody, query=SearchQuery, responses={200: TriageResult})``. The query
model is checked before the view runs (a 400 naming the parameter, as before); the body model is checked
where the view reads its body with :func:`service.platform.validation.json_body`, so a view that answers
404 for an unknown object before judging the body keeps doing so. Errors keep the API's contract
(``{"error": {"code", "message", "field"}}``): a key the model does not know is ``unknown_field``, any
other problem ``invalid_field`` (422) with the house wording ("subject is required", "k must be between 1
and 50"). The views keep their finer checks (NUL bytes, instants, money) on top.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, ClassVar, Literal, get_args, get_origin

from flask import current_app, request
from pydantic import BaseModel, ConfigDict, ValidationError

from service.platform.errors import ApiError


class Body(BaseModel):
    """A JSON request body: strict JSON types, every key known (``unknown_field`` otherwise)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    #: field -> the message for a value of the wrong type (where "must be a string" would mislead)
    type_messages: ClassVar[dict[str, str]] = {}


class Query(BaseModel):
    """Query-string parameters: text converted to the declared types; other parameters are ignored."""

    model_config = ConfigDict(extra="ignore")
    type_messages: ClassVar[dict[str, str]] = {}


class Reply(BaseModel):
    """A response body: the documented keys; a response may carry more (additive changes stay compatible)."""

    model_config = ConfigDict(extra="allow")


@dataclass(frozen=True)
class Contract:
    """What :func:`operation` records on a view for the document and for the checks."""

    body: type[Body] | None = None
    query: type[Query] | None = None
    responses: Mapping[int, type[BaseModel] | None] = field(default_factory=dict)
    deprecated: bool = False


def operation(*, body: type[Body] | None = None, query: type[Query] | None = None,
              responses: Mapping[int, type[BaseModel] | None] | None = None,
              deprecated: bool = False) -> Callable:
    """Decorator (below ``@permit``): declare the view's body, query and responses; check the query."""
    contract = Contract(body=body, query=query, responses=dict(responses or {200: None}), deprecated=deprecated)

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if query is not None:
                check_query(query)
            return view(*args, **kwargs)

        wrapped.precedent_contract = contract
        return wrapped

    return decorator


def contract_of(view: Callable | None) -> Contract | None:
    """The contract a view declared, or None."""
    return getattr(view, "precedent_contract", None)


def current_contract() -> Contract | None:
    """The contract of the view answering the current request."""
    if request.endpoint is None:
        return None
    return contract_of(current_app.view_functions.get(request.endpoint))


# --- checking ------------------------------------------------------------------------------------------


def check_body(model: type[Body], data: dict[str, Any]) -> None:
    """422 naming the first field of ``data`` that ``model`` refuses (``unknown_field`` for a stray key)."""
    unknown = sorted(set(data) - set(model.model_fields))
    if unknown:
        raise ApiError(422, f"unknown field {unknown[0]!r} (allowed: {', '.join(model.model_fields)})",
                       field=unknown[0], code="unknown_field")
    try:
        model.model_validate(data)
    except ValidationError as exc:
        raise _api_error(model, exc, data, status=422) from None


def check_query(model: type[Query]) -> None:
    """400 naming the first query parameter ``model`` refuses; an empty parameter counts as absent."""
    given = {name: request.args.get(name) for name in model.model_fields if request.args.get(name)}
    try:
        model.model_validate(given)
    except ValidationError as exc:
        raise _api_error(model, exc, given, status=400) from None


def _bounds(model: type[BaseModel], name: str) -> tuple[Any, Any]:
    """The ``ge`` and ``le`` a field declares (None where it declares none)."""
    low = high = None
    for constraint in model.model_fields[name].metadata:
        low = getattr(constraint, "ge", low)
        high = getattr(constraint, "le", high)
    return low, high


def _api_error(model: type[BaseModel], exc: ValidationError, data: Mapping[str, Any], *, status: int) -> ApiError:
    """The first pydantic error as the API's error, worded as the hand-written checks word it."""
    error = exc.errors(include_url=False)[0]
    name = str(error["loc"][0]) if error["loc"] else "body"
    kind, value = error["type"], data.get(name)
    ctx = error.get("ctx") or {}
    low, high = _bounds(model, name) if name in model.model_fields else (None, None)
    if len(error["loc"]) > 1 and kind.startswith("int"):  # an item of a list of ids
        message = f"{name} must be a list of integers"
    elif kind == "missing" or (value is None and name in data):
        message = f"{name} is required"
    elif name in model.type_messages and (kind.endswith(("_type", "_parsing")) or kind == "union_tag_invalid"):
        message = model.type_messages.get(name, f"{name} has the wrong type")
    elif kind == "literal_error":
        message = f"{name} must be one of {', '.join(_choices(model.model_fields[name].annotation))}"
    elif kind in ("int_parsing", "int_from_float") and status == 400:
        message = f"{name} must be an integer, got {value!r}"
    elif kind in ("greater_than_equal", "less_than_equal") and status == 400 and None not in (low, high):
        message = f"{name} must be between {low} and {high}"
    else:
        message = _MESSAGES.get(kind, "{name}: {msg}").format(name=name, msg=error["msg"], **ctx)
    return ApiError(status, message, field=name)


def _choices(annotation: Any) -> list[str]:
    """The values of the ``Literal`` inside ``annotation`` (``Literal[...] | None`` included)."""
    if get_origin(annotation) is Literal:
        return [str(v) for v in get_args(annotation)]
    return [value for arg in get_args(annotation) for value in _choices(arg)]


_MESSAGES = {
    "string_type": "{name} must be a string",
    "int_type": "{name} must be an integer",
    "int_parsing": "{name} must be an integer",
    "bool_type": "{name} must be true or false",
    "bool_parsing": "{name} must be true or false",
    "list_type": "{name} must be a list",
    "dict_type": "{name} must be a JSON object",
    "literal_error": "{name} must be one of {expected}",
    "string_too_long": "{name} must have at most {max_length} characters",
    "string_too_short": "{name} must not be empty",
    "greater_than_equal": "{name} must be >= {ge}",
    "less_than_equal": "{name} must be <= {le}",
    "too_long": "{name} must have at most {max_length} items",
}
