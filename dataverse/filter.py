"""A parser of OData v4 `$filter` expressions into a small syntax tree (no Django here).

Used to check a mapping's CRM filter before it is saved: the syntax, and that every property it
names exists on the entity. Supports eq ne gt ge lt le, and/or/not, parentheses, null, true,
false, numbers, 'strings', GUIDs, dates, contains/startswith/endswith(property, value), OData's
`property in (...)` and Dataverse's `Microsoft.Dynamics.CRM.In(PropertyName='x',
PropertyValues=[...])` family of query functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)
  | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<punct>[(),\[\]=])
  | (?P<name>[A-Za-z_][\w.]*)
""",
    re.VERBOSE,
)
COMPARISONS = {"eq", "ne", "gt", "ge", "lt", "le"}
STRING_FUNCTIONS = {"contains", "startswith", "endswith"}
LITERALS = {"null": None, "true": True, "false": False}
QUERY_FUNCTION_PREFIX = "Microsoft.Dynamics.CRM."


class FilterSyntaxError(ValueError):
    def __init__(self, message: str, position: int):
        super().__init__(f"{message} (at position {position + 1})")
        self.position = position


@dataclass
class Property:
    name: str
    position: int


@dataclass
class Literal:
    value: object
    kind: str  # string, number, guid, date, datetime, null, boolean


@dataclass
class Comparison:
    property: Property
    operator: str
    value: Literal


@dataclass
class Function:
    name: str
    property: Property
    values: list[Literal] = field(default_factory=list)


@dataclass
class Logical:
    operator: str  # and, or, not
    operands: list


@dataclass
class _Token:
    kind: str
    text: str
    pos: int


def tokenize(text: str) -> list[_Token]:
    tokens, pos = [], 0
    while pos < len(text):
        match = TOKEN_RE.match(text, pos)
        if not match:
            raise FilterSyntaxError(f"unexpected character {text[pos]!r}", pos)
        if match.lastgroup != "ws":
            tokens.append(_Token(match.lastgroup, match.group(), pos))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, expected: str) -> _Token:
        token = self.peek()
        if token is None:
            raise FilterSyntaxError(
                f"the filter ends where {expected} was expected", len(self.text)
            )
        self.i += 1
        return token

    def expect(self, text: str) -> _Token:
        token = self.take(f"'{text}'")
        if token.text != text:
            raise FilterSyntaxError(f"expected '{text}', found {token.text!r}", token.pos)
        return token

    def word(self, word: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "name" and token.text == word

    def parse(self):
        node = self.parse_or()
        token = self.peek()
        if token is not None:
            raise FilterSyntaxError(
                f"expected 'and', 'or' or the end, found {token.text!r}", token.pos
            )
        return node

    def parse_or(self):
        operands = [self.parse_and()]
        while self.word("or"):
            self.i += 1
            operands.append(self.parse_and())
        return operands[0] if len(operands) == 1 else Logical("or", operands)

    def parse_and(self):
        operands = [self.parse_not()]
        while self.word("and"):
            self.i += 1
            operands.append(self.parse_not())
        return operands[0] if len(operands) == 1 else Logical("and", operands)

    def parse_not(self):
        if self.word("not"):
            self.i += 1
            return Logical("not", [self.parse_not()])
        token = self.peek()
        if token is not None and token.text == "(":
            self.i += 1
            node = self.parse_or()
            self.expect(")")
            return node
        return self.parse_primary()

    def parse_primary(self):
        token = self.take("a property or a function")
        if token.kind != "name" or token.text in COMPARISONS | {"and", "or", "not"}:
            raise FilterSyntaxError(f"expected a property, found {token.text!r}", token.pos)
        nxt = self.peek()
        if nxt is not None and nxt.text == "(":
            return self.parse_function(token)
        prop = Property(token.text, token.pos)
        op = self.take("an operator (eq, ne, gt, ge, lt, le, in)")
        if op.text == "in":
            self.expect("(")
            values = self.parse_list(")")
            return Function("in", prop, values)
        if op.text not in COMPARISONS:
            raise FilterSyntaxError(f"unknown operator {op.text!r}", op.pos)
        return Comparison(prop, op.text, self.parse_literal())

    def parse_function(self, name: _Token):
        self.expect("(")
        if name.text in STRING_FUNCTIONS:
            prop_token = self.take("a property")
            if prop_token.kind != "name":
                raise FilterSyntaxError(
                    f"expected a property, found {prop_token.text!r}", prop_token.pos
                )
            self.expect(",")
            value = self.parse_literal()
            self.expect(")")
            return Function(name.text, Property(prop_token.text, prop_token.pos), [value])
        if name.text.startswith(QUERY_FUNCTION_PREFIX):
            return self.parse_query_function(name)
        raise FilterSyntaxError(f"unknown function {name.text!r}", name.pos)

    def parse_query_function(self, name: _Token):
        arguments, prop = {}, None
        while True:
            key = self.take("a parameter name")
            self.expect("=")
            if key.text == "PropertyName":
                literal = self.parse_literal()
                if literal.kind != "string":
                    raise FilterSyntaxError("PropertyName must be a 'quoted' name", key.pos)
                prop = Property(literal.value, key.pos)
            elif key.text == "PropertyValues":
                self.expect("[")
                arguments["values"] = self.parse_list("]")
            else:
                arguments[key.text] = self.parse_literal()
            token = self.take("',' or ')'")
            if token.text == ")":
                break
            if token.text != ",":
                raise FilterSyntaxError(f"expected ',' or ')', found {token.text!r}", token.pos)
        if prop is None:
            raise FilterSyntaxError(f"{name.text} needs PropertyName", name.pos)
        values = arguments.get("values") or [v for k, v in arguments.items() if k != "values"]
        return Function(name.text[len(QUERY_FUNCTION_PREFIX) :], prop, values)

    def parse_list(self, closing: str) -> list[Literal]:
        values = []
        while True:
            values.append(self.parse_literal())
            token = self.take(f"',' or '{closing}'")
            if token.text == closing:
                return values
            if token.text != ",":
                raise FilterSyntaxError(
                    f"expected ',' or '{closing}', found {token.text!r}", token.pos
                )

    def parse_literal(self) -> Literal:
        token = self.take("a value")
        if token.kind == "string":
            return Literal(token.text[1:-1].replace("''", "'"), "string")
        if token.kind == "number":
            return Literal(token.text, "number")
        if token.kind in {"guid", "date", "datetime"}:
            return Literal(token.text, token.kind)
        if token.kind == "name" and token.text in LITERALS:
            value = LITERALS[token.text]
            return Literal(value, "null" if value is None else "boolean")
        raise FilterSyntaxError(f"expected a value, found {token.text!r}", token.pos)


def parse(text: str):
    """The syntax tree of a $filter; raises FilterSyntaxError naming the position."""
    if not text or not text.strip():
        raise FilterSyntaxError("the filter is empty", 0)
    return _Parser(text).parse()


def properties(node) -> list[Property]:
    """Every property the filter names, in order."""
    if isinstance(node, Logical):
        return [p for operand in node.operands for p in properties(operand)]
    return [node.property]


def comparisons(node):
    """Every comparison and function of the tree (the leaves)."""
    if isinstance(node, Logical):
        for operand in node.operands:
            yield from comparisons(operand)
    else:
        yield node
