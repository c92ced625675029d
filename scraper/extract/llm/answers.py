"""An LLM's JSON answer turned into a validated instance of any Pydantic model, item by item.

Why: models, small local ones in JSON mode above all, write JSON badly: a thinking block
or prose around the object, a Markdown fence, trailing commas, ``null`` for a string,
``"organization"`` for ``"Organization"``, ``"works_for"`` for ``"worksFor"``. Validating
the whole answer at once throws away every good entity of a chunk for one bad field. Here
what is unambiguous is normalised, guided only by the model's field types (never by field
names), and then each list item, dict entry or optional field that still does not validate
is left out on its own and reported, so the rest of the answer survives.

:func:`parse_answer` is the entry point; ``value`` is always the result of
``schema.model_validate`` or ``None``.
"""

from __future__ import annotations

import enum
import re
import types
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import json_repair
from pydantic import AliasChoices, BaseModel, ValidationError

from scraper.safe_json import bounded, load_json

# Drops re-validate the whole answer; every round removes at least one piece, and
# Pydantic reports all errors of a round at once, so a few rounds are the norm.
_MAX_ROUNDS = 25
_MAX_ERROR_LINES = 10
_SHORT_INPUT = 60

_THINK_BLOCK = re.compile(r"<(think|thinking)>.*?</\1>", re.S | re.I)
_THINK_OPEN = re.compile(r"<(?:think|thinking)>", re.I)
_THINK_CLOSE = re.compile(r"</(?:think|thinking)>", re.I)
_FENCE_OPEN = re.compile(r"```[A-Za-z0-9_+-]*[ \t]*\n?")
_FENCE_CLOSE = "```"
# The characters that matter when finding a JSON object's extent in free text.
_STRUCTURE = re.compile(r"[{}\[\]\"'\\]")
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z]|[^A-Za-z]|$)|[A-Z]?[a-z]+|[A-Z]+|\d+")
_JSON_SCHEMA_TYPES = frozenset(
    {"object", "array", "string", "number", "integer", "boolean", "null"}
)
_JSON_SCHEMA_KEYS = ("$ref", "items", "anyOf", "allOf", "oneOf", "properties")
_SCHEMA_MARKERS = ("$defs", "$schema", "definitions")
_UNION_TYPES = (Union, types.UnionType)
_LIST_ORIGINS = (list, set, frozenset, Sequence, tuple)
_NUMBER_TYPES = (int, float, Decimal)
_MAPPING_NODE = object()  # marks a dict that holds a dict-typed field's entries


@dataclass(frozen=True)
class DroppedItem:
    """A piece of the answer left out because it did not validate."""

    path: str
    reason: str


@dataclass(frozen=True)
class ParsedAnswer:
    """What :func:`parse_answer` made of an answer."""

    value: BaseModel | None
    dropped: tuple[DroppedItem, ...] = ()
    repairs: tuple[str, ...] = ()
    error: str = ""

    @property
    def model(self) -> BaseModel:
        """The validated value of a usable answer."""
        if self.value is None:
            raise ValueError(self.error or "the answer held nothing usable")
        return self.value

    @property
    def usable(self) -> bool:
        """A value, and not one emptied by drops (an empty answer with no drops is real)."""
        if self.value is None:
            return False
        return not (self.dropped and _is_empty(self.value))


class _Unusable(Exception):
    """Nothing usable is left; ``error`` is phrased for a re-ask."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def parse_answer(content: str, schema: type[BaseModel]) -> ParsedAnswer:
    """The answer ``content`` as a validated ``schema`` instance, with what was dropped and why."""
    repairs: dict[str, None] = {}
    dropped: list[DroppedItem] = []
    try:
        data = _find_json(content, repairs)
        data = _to_object(data, schema, repairs)
        normaliser = _Normaliser(repairs)
        data = normaliser.model(data, schema)
        value = _validate_dropping(data, schema, normaliser.nodes, dropped)
    except _Unusable as exc:
        return ParsedAnswer(None, tuple(dropped), tuple(repairs), exc.error)
    answer = ParsedAnswer(value, tuple(dropped), tuple(repairs))
    if not answer.usable:
        error = "Every item of the answer was invalid and was left out:\n" + _drop_lines(dropped)
        return ParsedAnswer(value, answer.dropped, answer.repairs, error)
    return answer


# --- Finding the JSON -------------------------------------------------------------------


def _find_json(content: str, repairs: dict[str, None]) -> Any:
    """The JSON value in ``content``: strict JSON first, ``json_repair`` only when that fails."""
    strict = _strict_loads(content)  # before any cutting: a string value may hold a tag
    if isinstance(strict, dict | list):
        return strict
    text, thinking_left = _without_thinking(content, repairs)
    strict = _strict_loads(text)
    if isinstance(strict, dict | list):
        return strict
    text = _without_fence(text, repairs)
    spans = sorted(_json_spans(text), key=lambda span: span[1] - span[0], reverse=True)
    # The longest span is the answer far more often than a brace in prose or thinking.
    for start, end in spans[:3]:
        candidate = text[start:end]
        value = _strict_loads(candidate)
        if not isinstance(value, dict | list):
            value = _repaired_loads(candidate)
            if not isinstance(value, dict | list) or not value:
                continue
            repairs["json_repaired"] = None
        before = "" if thinking_left else text[:start]
        if before.strip() or text[end:].strip():
            repairs["surrounding_prose"] = None
        return value
    raise _Unusable(
        "The answer held no JSON object. Answer with one JSON object matching the schema, "
        "and nothing else."
    )


def _without_thinking(content: str, repairs: dict[str, None]) -> tuple[str, bool]:
    """``content`` without reasoning blocks; True when an unclosed one still leads the text."""
    text, count = _THINK_BLOCK.subn("", content)
    closes = list(_THINK_CLOSE.finditer(text))
    if closes:  # the opening tag was in the prompt template, or the blocks were malformed
        text = text[closes[-1].end() :]
        count += 1
    opening = _THINK_OPEN.search(text)
    if opening:
        text = text[opening.end() :]
    if count or opening:
        repairs["think_block"] = None
    return text, opening is not None


def _without_fence(text: str, repairs: dict[str, None]) -> str:
    """The body of a Markdown code fence (prose around it kept for the span search)."""
    opening = _FENCE_OPEN.search(text)
    if not opening:
        return text
    repairs["code_fence"] = None
    closing = text.rfind(_FENCE_CLOSE, opening.end())
    if closing < 0:  # an answer cut before its closing fence
        return text[: opening.start()] + " " + text[opening.end() :]
    end = closing + len(_FENCE_CLOSE)
    return text[: opening.start()] + " " + text[opening.end() : closing] + " " + text[end:]


def _json_spans(text: str) -> Iterator[tuple[int, int]]:
    """Extents of top-level ``{...}`` / ``[...]`` in ``text``; an unclosed one runs to the end."""
    depth = 0
    start = 0
    quote = ""
    skip_to = -1
    for match in _STRUCTURE.finditer(text):
        at = match.start()
        if at < skip_to:
            continue
        char = match.group()
        if quote:
            if char == "\\":
                skip_to = at + 2
            elif char == quote:
                quote = ""
        elif depth == 0:
            if char in "{[":
                depth, start = 1, at
        elif char in "\"'":
            quote = char
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                yield start, at + 1
    if depth:
        yield start, len(text)


def _strict_loads(text: str) -> Any:
    """JSON text as valid text (no lone surrogates), None when not JSON or nested too deep."""
    try:
        return load_json(text)
    except ValueError:
        return None


def _repaired_loads(text: str) -> Any:
    try:
        # strict loads already failed
        return bounded(json_repair.loads(text, skip_json_loads=True), text)
    except Exception:  # a repair library bug must read as "no JSON", not crash the crawl
        return None


# --- Choosing the object ----------------------------------------------------------------


def _to_object(data: Any, schema: type[BaseModel], repairs: dict[str, None]) -> dict[str, Any]:
    """The object holding the schema's fields: unwrapped, or a bare list put in its field."""
    info = _model_info(schema)
    if isinstance(data, list):
        list_fields = [spec for spec in info.fields.values() if _is_list_shape(spec.shape)]
        if len(list_fields) != 1:
            raise _Unusable(
                "The answer was a JSON array. Answer with one JSON object with the fields "
                f"{_field_names(schema)}."
            )
        repairs["list_to_object"] = None
        return {list_fields[0].input_key: data}
    if data and not _matched_keys(data, info):
        inner = _wrapped(data, info, depth=3)
        if inner is not None:
            data = inner
            repairs["unwrapped"] = None
    if _is_schema_echo(data, info):
        raise _Unusable(
            "The answer was a JSON Schema, not data. Answer with the data itself: one JSON "
            f"object with the fields {_field_names(schema)}."
        )
    if data and info.fields and not _matched_keys(data, info):
        keys = ", ".join(list(data)[:10])
        raise _Unusable(
            f"The answer's JSON object has none of the fields {_field_names(schema)} "
            f"(its keys: {keys}). Answer with one JSON object with those fields."
        )
    return data


def _wrapped(data: dict[str, Any], info: _ModelInfo, depth: int) -> dict[str, Any] | None:
    """The one object under ``data`` that has the schema's fields, e.g. ``{"answer": {...}}``."""
    found = []
    for value in data.values():
        if not isinstance(value, dict):
            continue
        if _matched_keys(value, info):
            found.append(value)
        elif depth > 1 and (inner := _wrapped(value, info, depth - 1)) is not None:
            found.append(inner)
    return found[0] if len(found) == 1 else None


def _is_schema_echo(data: dict[str, Any], info: _ModelInfo) -> bool:
    matched = [data[key] for key in _matched_keys(data, info)]
    if matched:
        return all(_looks_like_schema_node(value) for value in matched)
    if any(marker in data for marker in _SCHEMA_MARKERS):
        return True
    return isinstance(data.get("properties"), dict) or data.get("type") == "object"


def _looks_like_schema_node(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    kind = value.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if kind is not None and all(isinstance(k, str) and k in _JSON_SCHEMA_TYPES for k in kinds):
        return True
    return any(key in value for key in _JSON_SCHEMA_KEYS)


def _field_names(schema: type[BaseModel]) -> str:
    return ", ".join(spec.input_key for spec in _model_info(schema).fields.values())


# --- Model and type introspection (cached: answers are many, schemas few) ---------------


@dataclass(frozen=True)
class _Shape:
    """What a type annotation expects, reduced to what normalising needs."""

    kind: str  # any, union, model, list, dict, literal, enum, str, number, bool, other
    tp: Any = None  # the model or enum class
    pattern: str | None = None  # a str's regex constraint
    nullable: bool = False  # None is a valid value
    members: tuple[_Shape, ...] = ()  # a union's members; a list's item; a dict's value
    allowed: tuple[Any, ...] = ()  # a Literal's or Enum's values


_ANY = _Shape("any", nullable=True)


def _shape(tp: Any) -> _Shape:
    try:
        return _cached_shape(tp, None)
    except TypeError:  # an annotation with unhashable metadata
        return _build_shape(tp, None)


@lru_cache(maxsize=1024)
def _cached_shape(tp: Any, pattern: str | None) -> _Shape:
    return _build_shape(tp, pattern)


def _build_shape(tp: Any, pattern: str | None) -> _Shape:
    tp, own_pattern = _unwrap(tp)
    pattern = own_pattern or pattern
    origin = get_origin(tp)
    args = get_args(tp)
    if tp is Any or tp is object:
        return _ANY
    if origin in _UNION_TYPES:
        # A union's pattern (rare) holds for each member it could be.
        members = tuple(_build_shape(arg, pattern) for arg in args if arg is not type(None))
        nullable = type(None) in args or any(member.nullable for member in members)
        return _Shape("union", nullable=nullable, members=members)
    if tp is None or tp is type(None):
        return _Shape("other", nullable=True)
    if _is_model(tp):
        return _Shape("model", tp=tp)
    if tp in (list, set, frozenset) or origin in _LIST_ORIGINS:
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            return _Shape("other")  # a fixed-length tuple: positions are not items to guess at
        return _Shape("list", members=(_build_shape(args[0], None) if args else _ANY,))
    if tp is dict or origin in (dict, Mapping):
        return _Shape("dict", members=(_build_shape(args[1], None) if len(args) == 2 else _ANY,))
    if origin is Literal:
        return _Shape("literal", nullable=None in args, allowed=args)
    if _is_enum(tp):
        return _Shape("enum", tp=tp, allowed=tuple(member.value for member in tp))
    if tp is str:
        return _Shape("str", pattern=pattern)
    if tp is bool:
        return _Shape("bool")
    if tp in _NUMBER_TYPES:
        return _Shape("number", tp=tp)
    return _Shape("other")


def _unwrap(tp: Any) -> tuple[Any, str | None]:
    """``tp`` without ``Annotated``/``NewType``/alias wrappers, and its string pattern if any."""
    pattern = None
    while True:
        if get_origin(tp) is Annotated:
            base, *metadata = get_args(tp)
            pattern = _pattern_of(metadata) or pattern
            tp = base
        elif hasattr(tp, "__supertype__"):  # typing.NewType
            tp = tp.__supertype__
        elif hasattr(tp, "__value__") and not isinstance(tp, type):  # a ``type X = ...`` alias
            tp = tp.__value__
        else:
            return tp, pattern


def _pattern_of(metadata: Sequence[Any]) -> str | None:
    for item in metadata:
        pattern = getattr(item, "pattern", None)
        if isinstance(pattern, str):
            return pattern
        nested = getattr(item, "metadata", None)  # a FieldInfo inside Annotated
        if isinstance(nested, list) and (found := _pattern_of(nested)):
            return found
    return None


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _is_enum(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, enum.Enum)


def _is_list_shape(shape: _Shape) -> bool:
    if shape.kind == "union":
        return len(shape.members) == 1 and _is_list_shape(shape.members[0])
    return shape.kind == "list"


@dataclass(frozen=True)
class _FieldSpec:
    input_key: str  # the key validation reads: the alias when there is one
    shape: _Shape
    required: bool


@dataclass(frozen=True)
class _ModelInfo:
    fields: dict[str, _FieldSpec]  # by input key
    exact: dict[str, str]  # every accepted spelling -> input key
    folded: dict[str, tuple[str, ...]]  # case- and separator-free spelling -> input keys
    allow_extra: bool
    single_required_str: str | None  # the input key of the only required field, if a str


@lru_cache(maxsize=512)
def _model_info(model: type[BaseModel]) -> _ModelInfo:
    by_alias = model.model_config.get("validate_by_alias", True)
    fields: dict[str, _FieldSpec] = {}
    exact: dict[str, str] = {}
    folded: dict[str, list[str]] = {}
    for name, info in model.model_fields.items():
        spellings = [name]
        if isinstance(info.validation_alias, str):
            spellings.append(info.validation_alias)
        elif isinstance(info.validation_alias, AliasChoices):
            spellings += [
                choice for choice in info.validation_alias.choices if isinstance(choice, str)
            ]
        if info.alias:
            spellings.append(info.alias)
        input_key = spellings[1] if by_alias and len(spellings) > 1 else name
        shape = _shape(info.rebuild_annotation())
        fields[input_key] = _FieldSpec(input_key, shape, info.is_required())
        for spelling in spellings:
            exact.setdefault(spelling, input_key)
            keys = folded.setdefault(_fold(spelling), [])
            if input_key not in keys:
                keys.append(input_key)
    required = [spec for spec in fields.values() if spec.required]
    single = None
    if len(required) == 1 and required[0].shape.kind == "str":
        single = required[0].input_key
    return _ModelInfo(
        fields=fields,
        exact=exact,
        folded={key: tuple(value) for key, value in folded.items()},
        allow_extra=model.model_config.get("extra") == "allow",
        single_required_str=single,
    )


@lru_cache(maxsize=8192)
def _fold(text: str) -> str:
    return "".join(char for char in text.lower() if char.isalnum())


def _field_key(key: str, info: _ModelInfo) -> str | None:
    """The input key ``key`` stands for: an exact spelling, else one unambiguous fold."""
    if key in info.exact:
        return info.exact[key]
    candidates = info.folded.get(_fold(key), ())
    return candidates[0] if len(candidates) == 1 else None


def _matched_keys(data: dict[str, Any], info: _ModelInfo) -> list[str]:
    return [key for key in data if isinstance(key, str) and _field_key(key, info)]


# --- Normalising ------------------------------------------------------------------------


class _Normaliser:
    """A copy of the data shaped by the field types; ``nodes`` says what each dict is."""

    def __init__(self, repairs: dict[str, None]) -> None:
        self.repairs = repairs
        # id of each dict produced -> its model, or _MAPPING_NODE for a dict-typed field
        self.nodes: dict[int, Any] = {}

    def note(self, code: str) -> None:
        self.repairs[code] = None

    def value(self, value: Any, shape: _Shape) -> Any:
        kind = shape.kind
        if kind == "union" and value is not None and shape.members:
            return self.value(value, _best_member(value, shape.members))
        if value is None or kind in ("any", "union", "other"):
            return self.stripped(value) if kind == "other" else value
        if kind == "model":
            return self.model(value, shape.tp)
        if kind == "list":
            return self.sequence(value, shape.members[0])
        if kind == "dict":
            return self.mapping(value, shape.members[0])
        if kind in ("literal", "enum"):
            return self.choice(value, shape)
        if kind == "str":
            return self.string(value, shape.pattern)
        return self.stripped(value)  # numbers and bools: Pydantic's lax mode parses the rest

    def model(self, value: Any, model: type[BaseModel]) -> Any:
        info = _model_info(model)
        if not isinstance(value, dict):
            scalar = isinstance(value, str | int | float) and not isinstance(value, bool)
            if info.single_required_str and scalar:
                self.note("string_to_object")
                return self.model({info.single_required_str: value}, model)
            return value
        out: dict[str, Any] = {}
        fuzzy: list[tuple[str, str]] = []
        for key, item in value.items():
            if key in info.exact:
                self.put(out, info.exact[key], item, info)
                continue
            target = _field_key(key, info) if isinstance(key, str) else None
            if target is not None:
                fuzzy.append((target, key))
            elif info.allow_extra:
                out[key] = item
            else:
                self.note("unknown_key")
        # Exact spellings win over case or separator variants of the same field.
        for target, key in fuzzy:
            if target in out:
                self.note("duplicate_key")
                continue
            self.note("key_case")
            self.put(out, target, value[key], info)
        self.nodes[id(out)] = model
        return out

    def put(self, out: dict[str, Any], key: str, item: Any, info: _ModelInfo) -> None:
        spec = info.fields[key]
        if key in out:
            self.note("duplicate_key")
            return
        if item is None and not spec.required and not spec.shape.nullable:
            self.note("null_dropped")  # the default applies instead
            return
        out[key] = self.value(item, spec.shape)

    def sequence(self, value: Any, item: _Shape) -> list[Any]:
        if not isinstance(value, list):
            self.note("scalar_to_list")
            value = [value]
        out = []
        for element in value:
            if element is None and not item.nullable:
                self.note("null_dropped")
                continue
            out.append(self.value(element, item))
        return out

    def mapping(self, value: Any, item: _Shape) -> Any:
        if not isinstance(value, dict):
            return value
        out: dict[Any, Any] = {}
        for key, element in value.items():
            if element is None and not item.nullable:
                self.note("null_dropped")
                continue
            out[self.stripped(key)] = self.value(element, item)
        self.nodes[id(out)] = _MAPPING_NODE
        return out

    def choice(self, value: Any, shape: _Shape) -> Any:
        """A Literal's or Enum's value, written in another case or separator style."""
        if _is_allowed(value, shape.allowed) or not isinstance(value, str):
            return value
        value = self.stripped(value)
        if _is_allowed(value, shape.allowed):
            return value
        folded = _fold(value)
        matches = {
            option
            for option in shape.allowed
            if isinstance(option, str) and _fold(option) == folded
        }
        if shape.kind == "enum":  # a member's name counts as a spelling of its value
            matches |= {member.value for member in shape.tp if _fold(member.name) == folded}
        if len(matches) == 1:
            self.note("enum_case")
            return matches.pop()
        return value

    def string(self, value: Any, pattern: str | None) -> Any:
        if isinstance(value, bool):
            self.note("number_to_string")
            value = "true" if value else "false"
        elif isinstance(value, int | float):
            self.note("number_to_string")
            value = str(value)
        elif isinstance(value, dict):
            names = [item for key, item in value.items() if _fold(str(key)) == "name"]
            if len(names) != 1 or not isinstance(names[0], str | int | float):
                return value
            self.note("name_object_to_string")
            return self.string(names[0], pattern)
        if not isinstance(value, str):
            return value
        value = self.stripped(value)
        if pattern and not _compiled(pattern).search(value):
            for spelling in _respellings(value):
                if _compiled(pattern).search(spelling):
                    self.note("pattern_case")
                    return spelling
        return value

    def stripped(self, value: Any) -> Any:
        if isinstance(value, str):
            stripped = value.strip()
            if stripped != value:
                self.note("whitespace")
            return stripped
        return value


def _is_allowed(value: Any, allowed: tuple[Any, ...]) -> bool:
    # Type-exact, so that True does not pass for 1 nor 1 for 1.0.
    return any(value == option and type(value) is type(option) for option in allowed)


@lru_cache(maxsize=64)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _respellings(value: str) -> list[str]:
    """``value``'s words as lowerCamelCase, UpperCamelCase and snake_case."""
    words = [word.lower() for word in _WORD.findall(value)]
    if not words:
        return []
    upper = "".join(word.capitalize() for word in words)
    return [words[0] + upper[len(words[0]) :], upper, "_".join(words)]


def _best_member(value: Any, members: tuple[_Shape, ...]) -> _Shape:
    """The union member ``value`` fits best; the first on a tie, as Pydantic's smart mode."""
    best, best_score = members[0], -1.0
    for member in members:
        score = _fit(value, member)
        if score > best_score:
            best, best_score = member, score
    return best


def _fit(value: Any, shape: _Shape) -> float:
    """How naturally ``value`` is a ``shape``: 3 exactly, 2 naturally, 1 after a repair, 0 not."""
    kind = shape.kind
    if kind == "any":
        return 1.5
    if kind == "union":
        return max((_fit(value, member) for member in shape.members), default=0.0)
    if isinstance(value, list):
        return 2.0 if kind == "list" else 0.0
    if isinstance(value, dict):
        if kind == "model":
            return 2.0 + _model_fit(value, _model_info(shape.tp))
        if kind == "dict":
            return 2.0
        return 1.0 if kind == "str" and any(_fold(str(key)) == "name" for key in value) else 0.0
    if kind in ("literal", "enum"):
        if _is_allowed(value, shape.allowed):
            return 3.0
        folded = _fold(value) if isinstance(value, str) else None
        return 2.5 if folded and any(_fold(str(o)) == folded for o in shape.allowed) else 0.5
    if kind == "list":
        return 1.0  # a scalar becomes a one-item list, but any plainer member is better
    if isinstance(value, bool):
        return {"bool": 3.0, "str": 1.5}.get(kind, 0.0)
    if isinstance(value, int | float):
        if kind == "number":
            if shape.tp is type(value):
                return 3.0
            return 2.5 if shape.tp is not int or float(value).is_integer() else 0.5
        return 1.5 if kind == "str" else 0.0
    if isinstance(value, str):
        if kind == "str":
            return 2.0
        if kind == "number":
            return 1.0
        if kind == "model":
            return 1.0 if _model_info(shape.tp).single_required_str else 0.0
        return 0.5
    return 0.0


def _model_fit(value: dict[str, Any], info: _ModelInfo) -> float:
    """Share of ``value``'s keys that are fields, with a Literal field's value as tie-breaker."""
    if not value:
        return 0.0
    score = len(_matched_keys(value, info)) / len(value)
    for key, item in value.items():
        target = _field_key(key, info) if isinstance(key, str) else None
        if target is not None and info.fields[target].shape.kind in ("literal", "enum"):
            score += 0.5 if _is_allowed(item, info.fields[target].shape.allowed) else -0.5
    return score


# --- Validating, dropping what does not -------------------------------------------------


@dataclass
class _Target:
    """A droppable piece: the containers descended through and the key in each."""

    steps: list[tuple[Any, Any]]
    reasons: list[str] = field(default_factory=list)

    @property
    def keys(self) -> tuple[Any, ...]:
        return tuple(key for _, key in self.steps)


def _validate_dropping(
    data: dict[str, Any], schema: type[BaseModel], nodes: dict[int, Any], dropped: list[DroppedItem]
) -> BaseModel:
    for _ in range(_MAX_ROUNDS):
        try:
            return schema.model_validate(data)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
        targets: dict[tuple[Any, ...], _Target] = {}
        # (target keys, path under it) -> union member tags and the error, to say it once
        failures: dict[tuple[tuple[Any, ...], tuple[Any, ...]], list[tuple[Any, Any]]] = {}
        fatal: list[str] = []
        for error in errors:
            target, rest, tag = _drop_target(data, error, nodes)
            if target is None:
                fatal.append(_reason(error, rest))
                continue
            targets.setdefault(target.keys, target)
            failures.setdefault((target.keys, rest), []).append((tag, error))
        if fatal:
            raise _Unusable("The answer did not validate:\n" + _bounded(fatal))
        for (keys, rest), tagged in failures.items():
            targets[keys].reasons.append(_union_reason(tagged, rest))
        outermost = _outermost(targets)
        dropped += [DroppedItem(_path(t.keys), _summary(t.reasons)) for t in outermost]
        _remove(outermost)
    raise _Unusable("The answer did not validate:\n" + _drop_lines(dropped))


def _drop_target(
    data: Any, error: Mapping[str, Any], nodes: dict[int, Any]
) -> tuple[_Target | None, tuple[Any, ...], Any]:
    """The deepest droppable piece on the error's path, the path under it, the union tag."""
    node = data
    steps: list[tuple[Any, Any]] = []
    best = -1
    tag = None
    for part in error["loc"]:
        if isinstance(node, dict) and part in node:
            droppable = _key_droppable(node, part, nodes)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            droppable = True
        else:
            tag = part  # a union member's tag, or the name of a missing field
            continue
        steps.append((node, part))
        node = node[part]
        tag = None
        if droppable:
            best = len(steps) - 1
    rest = tuple(key for _, key in steps[best + 1 :])
    if error["type"] == "missing" and error["loc"]:
        rest += (error["loc"][-1],)  # the model needs to hear which field it left out
        tag = None
    if best < 0:
        return None, rest, tag
    return _Target(steps[: best + 1]), rest, tag


def _key_droppable(node: dict[str, Any], key: Any, nodes: dict[int, Any]) -> bool:
    kind = nodes.get(id(node))
    if kind is _MAPPING_NODE:
        return True
    if _is_model(kind):
        spec = _model_info(kind).fields.get(key)
        return spec is None or not spec.required
    return False


def _outermost(targets: dict[tuple[Any, ...], _Target]) -> list[_Target]:
    """Targets not inside another target (dropping the outer one removes the inner)."""
    kept: list[tuple[Any, ...]] = []
    for key in sorted(targets, key=len):
        if not any(key[: len(outer)] == outer for outer in kept):
            kept.append(key)
    return [target for key, target in targets.items() if key in kept]  # in the answer's order


def _remove(targets: list[_Target]) -> None:
    by_container: dict[int, tuple[Any, list[Any]]] = {}
    for target in targets:
        container, key = target.steps[-1]
        by_container.setdefault(id(container), (container, []))[1].append(key)
    for container, keys in by_container.values():
        if isinstance(container, list):
            for index in sorted(keys, reverse=True):  # later indices first keep earlier ones valid
                del container[index]
        else:
            for key in keys:
                container.pop(key, None)


def _reason(error: Mapping[str, Any], rest: tuple[Any, ...]) -> str:
    message = " ".join(str(error["msg"]).split())
    if error["type"] != "missing" and "input" in error:
        message += f" (got {_short(error['input'])})"
    where = _path(rest)
    return f"{where}: {message}" if where else message


def _union_reason(tagged: list[tuple[Any, Any]], rest: tuple[Any, ...]) -> str:
    """One reason for the errors at one place; a union's members are named together."""
    tags = [str(tag) for tag, _ in tagged if tag is not None]
    error = tagged[0][1]
    if len(tags) < 2 or len(tags) != len(tagged):
        return _summary([_reason(error, rest) for _, error in tagged])
    message = f"matches none of {', '.join(dict.fromkeys(tags))}"
    if "input" in error:
        message += f" (got {_short(error['input'])})"
    where = _path(rest)
    return f"{where}: {message}" if where else message


def _summary(reasons: list[str]) -> str:
    distinct = list(dict.fromkeys(reasons))
    more = len(distinct) - 1
    return distinct[0] + (f"; and {more} more" if more > 0 else "")


def _short(value: Any) -> str:
    text = " ".join(repr(value).split())
    return text if len(text) <= _SHORT_INPUT else text[: _SHORT_INPUT - 3] + "..."


def _path(keys: Sequence[Any]) -> str:
    out = ""
    for key in keys:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return out


def _drop_lines(dropped: Sequence[DroppedItem]) -> str:
    return _bounded([f"{item.path}: {item.reason}" for item in dropped])


def _bounded(lines: list[str]) -> str:
    shown = [f"- {line}" for line in lines[:_MAX_ERROR_LINES]]
    if len(lines) > _MAX_ERROR_LINES:
        shown.append(f"- and {len(lines) - _MAX_ERROR_LINES} more")
    return "\n".join(shown)


def _is_empty(value: BaseModel) -> bool:
    """Every field at its default (required fields never are)."""
    for name, info in type(value).model_fields.items():
        if info.is_required():
            return False
        if getattr(value, name) != info.get_default(call_default_factory=True):
            return False
    return True
