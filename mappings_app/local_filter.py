"""The table filter of a mapping: a small readable syntax over the ERP model's fields.

    type = person AND company != empty
    (city = 'New York' OR city = Boston) AND NOT blocked = all
    credit_limit_lcy >= 1000 AND name contains 'Corp'

Fields are the model's field names; `company.type` follows a foreign key. Operators: = != < <=
> >= contains startswith endswith; values: quoted or bare words, numbers, true/false, and
`empty` (blank or no value). AND binds tighter than OR; NOT and parentheses as usual. The text
is parsed into a Django Q object and never evaluated: it can only filter the mapping's table.
Errors name the position (1-based) and what was expected.
"""

import re
from dataclasses import dataclass

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.db.models import Q

TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<paren>[()])
  | (?P<word>[^\s()'"=<>!]+)
""",
    re.VERBOSE,
)
KEYWORDS = {"and", "or", "not"}
WORD_OPERATORS = {"contains", "startswith", "endswith"}
LOOKUPS = {
    "=": "exact",
    "<": "lt",
    "<=": "lte",
    ">": "gt",
    ">=": "gte",
    "contains": "icontains",
    "startswith": "istartswith",
    "endswith": "iendswith",
}
MAX_LENGTH = 2000


class FilterError(ValueError):
    def __init__(self, message: str, position: int):
        super().__init__(f"{message} (at position {position + 1})")
        self.position = position


@dataclass
class Token:
    kind: str
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(text):
        match = TOKEN_RE.match(text, pos)
        if not match:
            raise FilterError(f"unexpected character {text[pos]!r}", pos)
        if match.lastgroup != "ws":
            tokens.append(Token(match.lastgroup, match.group(), pos))
        pos = match.end()
    return tokens


class Parser:
    def __init__(self, model: type[models.Model], text: str):
        self.model = model
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def next(self, expected: str) -> Token:
        token = self.peek()
        if token is None:
            raise FilterError(f"the filter ends where {expected} was expected", len(self.text))
        self.i += 1
        return token

    def is_keyword(self, word: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "word" and token.text.lower() == word

    def parse(self) -> Q:
        q = self.parse_or()
        token = self.peek()
        if token is not None:
            raise FilterError(f"expected AND, OR or the end, found {token.text!r}", token.pos)
        return q

    def parse_or(self) -> Q:
        q = self.parse_and()
        while self.is_keyword("or"):
            self.i += 1
            q = q | self.parse_and()
        return q

    def parse_and(self) -> Q:
        q = self.parse_not()
        while self.is_keyword("and"):
            self.i += 1
            q = q & self.parse_not()
        return q

    def parse_not(self) -> Q:
        if self.is_keyword("not"):
            self.i += 1
            return ~self.parse_not()
        token = self.peek()
        if token is not None and token.text == "(":
            self.i += 1
            q = self.parse_or()
            closing = self.next("')'")
            if closing.text != ")":
                raise FilterError(f"expected ')', found {closing.text!r}", closing.pos)
            return q
        return self.parse_comparison()

    def parse_comparison(self) -> Q:
        name = self.next("a field name")
        if name.kind != "word" or name.text.lower() in KEYWORDS:
            raise FilterError(f"expected a field name, found {name.text!r}", name.pos)
        field, path = self.resolve(name)
        op = self.next("an operator (= != < <= > >= contains startswith endswith)")
        operator = op.text.lower() if op.kind == "word" else op.text
        operator = "!=" if operator == "<>" else operator
        if operator not in LOOKUPS and operator != "!=":
            raise FilterError(f"unknown operator {op.text!r}", op.pos)
        value_token = self.next("a value")
        if value_token.kind not in {"word", "string"} or (
            value_token.kind == "word" and value_token.text.lower() in KEYWORDS
        ):
            raise FilterError(f"expected a value, found {value_token.text!r}", value_token.pos)
        if value_token.kind == "word" and value_token.text.lower() == "empty":
            if operator not in {"=", "!="}:
                raise FilterError("'empty' can only be compared with = or !=", value_token.pos)
            q = self.empty(field, path, value_token.pos)
            return q if operator == "=" else ~q
        if field.is_relation:
            # A reference compares by the referenced record's code or number, as BC shows it.
            key = next((n for n in ("code", "no") if _has_field(field.related_model, n)), None)
            if key is None:
                raise FilterError(f"{name.text} can only be compared with empty", value_token.pos)
            field, path = field.related_model._meta.get_field(key), f"{path}__{key}"
        value = self.convert(field, value_token)
        if operator in WORD_OPERATORS and not isinstance(
            field, (models.CharField, models.TextField)
        ):
            raise FilterError(f"{operator} needs a text field; {name.text} is not", op.pos)
        lookup = LOOKUPS["=" if operator == "!=" else operator]
        if isinstance(field, (models.CharField, models.TextField)) and lookup == "exact":
            lookup = "iexact"
        q = Q(**{f"{path}__{lookup}": value})
        return ~q if operator == "!=" else q

    def resolve(self, token: Token):
        model, parts, field = self.model, token.text.split("."), None
        for index, part in enumerate(parts):
            try:
                field = model._meta.get_field(part)
            except FieldDoesNotExist:
                known = ", ".join(sorted(f.name for f in model._meta.concrete_fields))
                raise FilterError(
                    f"{model._meta.object_name} has no field {part!r}. Fields: {known}", token.pos
                ) from None
            if not field.concrete:
                raise FilterError(
                    f"{part!r} is not a field of {model._meta.object_name}", token.pos
                )
            if index < len(parts) - 1:
                if not field.is_relation:
                    raise FilterError(f"{part!r} is not a reference; it has no fields", token.pos)
                model = field.related_model
        return field, "__".join(parts)

    def empty(self, field, path, pos) -> Q:
        if field.is_relation or field.null:
            q = Q(**{f"{path}__isnull": True})
            if isinstance(field, (models.CharField, models.TextField)):
                q |= Q(**{path: ""})
            return q
        if isinstance(field, (models.CharField, models.TextField)):
            return Q(**{path: ""})
        raise FilterError(
            f"{path.replace('__', '.')} always has a value; 'empty' cannot match", pos
        )

    def convert(self, field, token: Token):
        raw = token.text
        if token.kind == "string":
            raw = raw[1:-1].replace(raw[0] * 2, raw[0])
        if field.choices:
            for value, label in field.flatchoices:
                if raw.lower() in {str(value).lower(), str(label).lower()}:
                    return value
            allowed = ", ".join(str(v) or "''" for v, _ in field.flatchoices)
            raise FilterError(f"{raw!r} is not an option of {field.name} ({allowed})", token.pos)
        if isinstance(field, models.BooleanField):
            lowered = raw.lower()
            if lowered in {"true", "yes", "1"}:
                return True
            if lowered in {"false", "no", "0"}:
                return False
            raise FilterError(f"{field.name} is Yes/No; {raw!r} is neither", token.pos)
        try:
            return field.to_python(raw)
        except ValidationError as exc:
            raise FilterError(
                f"{raw!r} is not a valid {field.name}: {exc.messages[0]}", token.pos
            ) from None


def _has_field(model, name) -> bool:
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True


def parse(model: type[models.Model], text: str) -> Q:
    """The Q object of a table filter; empty text means every record. Raises FilterError."""
    text = (text or "").strip()
    if not text:
        return Q()
    if len(text) > MAX_LENGTH:
        raise FilterError(f"the filter is longer than {MAX_LENGTH} characters", MAX_LENGTH)
    return Parser(model, text).parse()
