"""`$filter` to SQL: a small recursive-descent parser that builds Django `Q` objects.

Operators eq ne gt ge lt le, and/or/not, parentheses, null, the functions contains, startswith,
endswith, OData's `in (...)` and Dataverse's `Microsoft.Dynamics.CRM.In/NotIn/Between/NotBetween`
query functions. Attributes kept in columns of `Row` filter on those columns (indexed); the others
on the JSON data through Django's key transforms (SQLite and PostgreSQL alike). String comparisons
for equality and the functions are case-insensitive, as Dataverse's SQL collation is. `eq` and
`In` on an indexed attribute (keys.py: primary name, Quick Find columns, natural keys) read the
index instead of the table, comparing as the collation does (case and trailing spaces ignored).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from django.db.models import Q

from crm_emulator import errors, keys
from crm_emulator.schema import Attribute, Entity
from crm_emulator.values import format_datetime, parse_datetime

TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)
  | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)[mMdDfFlL]?
  | (?P<punct>[(),\[\]=])
  | (?P<name>[A-Za-z_$@][\w.@/$]*)
""", re.VERBOSE)
COMPARISONS = {"eq", "ne", "gt", "ge", "lt", "le"}
COLUMNS = {"createdon": "createdon", "modifiedon": "modifiedon", "versionnumber": "versionnumber",
           "createdby": "createdby", "modifiedby": "modifiedby"}
STRING_TYPES = {"String", "Memo"}
NUMBER_TYPES = {"Integer", "Decimal", "Money", "Picklist", "State", "Status", "BigInt"}


@dataclass
class Token:
    kind: str
    text: str
    pos: int


class NullValue:
    """The literal `null`."""


NULL = NullValue()


def tokenize(text: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(text):
        match = TOKEN_RE.match(text, pos)
        if not match:
            raise syntax_error(text, pos)
        if match.lastgroup != "ws":
            tokens.append(Token(match.lastgroup, match.group(match.lastgroup), pos))
        pos = match.end()
    return tokens


def syntax_error(text: str, pos: int) -> errors.ApiError:
    return errors.bad_query(f"Syntax error at position {pos} in '{text}'.")


def field_of(entity: Entity, attribute: Attribute) -> str:
    """The ORM path of an attribute: a column of Row, or a key of its JSON data."""
    if attribute.name == entity.primary_id:
        return "rowid"
    return COLUMNS.get(attribute.name) or f"data__{attribute.name}"


class FilterParser:
    def __init__(self, entity: Entity, text: str):
        self.entity = entity
        self.text = text
        self.tokens = tokenize(text)
        self.negations = 0  # how many `not` the parser is inside
        self.index_reads: dict[int, tuple[Q, list]] = {}  # id(Q) -> (Q, its index lookups)
        self.pos = 0

    # --- token helpers ---
    def peek(self, offset=0) -> Token | None:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def next(self) -> Token:
        token = self.peek()
        if token is None:
            raise syntax_error(self.text, len(self.text))
        self.pos += 1
        return token

    def expect(self, text: str) -> Token:
        token = self.next()
        if token.text != text:
            raise syntax_error(self.text, token.pos)
        return token

    def is_word(self, word: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "name" and token.text == word

    # --- grammar ---
    def parse(self) -> Q:
        if not self.tokens:
            raise errors.bad_query("The $filter expression is empty.")
        q = self.parse_or()
        if self.peek() is not None:
            raise syntax_error(self.text, self.peek().pos)
        return q

    def parse_or(self) -> Q:
        q = self.parse_and()
        while self.is_word("or"):
            self.next()
            q = self.either(q, self.parse_and())
        return q

    def either(self, left: Q, right: Q) -> Q:
        """`left or right`; two reads of the index become one (keys.matching)."""
        reads = [self.index_reads.get(id(q)) for q in (left, right)]
        if all(read is not None and read[0] is q for read, q in zip(reads, (left, right),
                                                                    strict=True)):
            return self.index_q(reads[0][1] + reads[1][1])
        return left | right

    def index_q(self, lookups: list) -> Q:
        q = Q(rowid__in=keys.matching(self.entity.logical_name, lookups))
        self.index_reads[id(q)] = (q, lookups)
        return q

    def parse_and(self) -> Q:
        q = self.parse_unary()
        while self.is_word("and"):
            self.next()
            q = q & self.parse_unary()
        return q

    def parse_unary(self) -> Q:
        if self.is_word("not"):
            self.next()
            self.negations += 1
            q = self.parse_unary()
            self.negations -= 1
            return ~q
        return self.parse_primary()

    def parse_primary(self) -> Q:
        token = self.next()
        if token.text == "(":
            q = self.parse_or()
            self.expect(")")
            return q
        if token.kind != "name":
            raise syntax_error(self.text, token.pos)
        following = self.peek()
        if following is not None and following.text == "(":
            return self.parse_function(token)
        attribute = self.attribute(token.text)
        operator = self.next()
        if operator.kind == "name" and operator.text == "in":
            self.expect("(")
            values = self.parse_list(")")
            return self.membership(attribute, values)
        if operator.text not in COMPARISONS:
            raise syntax_error(self.text, operator.pos)
        return self.compare(attribute, operator.text, self.literal(self.next()))

    def parse_list(self, closing: str) -> list:
        values = []
        while True:
            values.append(self.literal(self.next()))
            token = self.next()
            if token.text == closing:
                return values
            if token.text != ",":
                raise syntax_error(self.text, token.pos)

    def parse_function(self, name_token: Token) -> Q:
        name = name_token.text
        self.expect("(")
        if name in ("contains", "startswith", "endswith"):
            attribute = self.attribute(self.next().text)
            self.expect(",")
            value = self.literal(self.next())
            self.expect(")")
            if attribute.type not in STRING_TYPES or not isinstance(value, str):
                raise errors.bad_query(
                    f"The function '{name}' applies to string properties and a string value.")
            lookup = {"contains": "icontains", "startswith": "istartswith",
                      "endswith": "iendswith"}[name]
            return Q(**{f"{field_of(self.entity, attribute)}__{lookup}": value})
        if name.startswith("Microsoft.Dynamics.CRM."):
            return self.query_function(name.removeprefix("Microsoft.Dynamics.CRM."), name_token)
        raise errors.bad_query(f"An unknown function with name '{name}' was found.")

    def query_function(self, name: str, name_token: Token) -> Q:
        arguments = {}
        while True:
            key = self.next()
            self.expect("=")
            if self.peek() is not None and self.peek().text == "[":
                self.next()
                arguments[key.text] = self.parse_list("]")
            else:
                arguments[key.text] = self.literal(self.next())
            token = self.next()
            if token.text == ")":
                break
            if token.text != ",":
                raise syntax_error(self.text, token.pos)
        prop, values = arguments.get("PropertyName"), arguments.get("PropertyValues")
        if not isinstance(prop, str) or not isinstance(values, list):
            raise errors.bad_query(
                f"The query function '{name}' needs PropertyName and PropertyValues.")
        attribute = self.attribute(prop)
        values = [self.coerce_text(attribute, v) for v in values]
        if name == "In":
            return self.membership(attribute, values)
        if name == "NotIn":
            self.negations += 1
            q = self.membership(attribute, values)
            self.negations -= 1
            return ~q
        if name in ("Between", "NotBetween") and len(values) == 2:
            q = self.compare(attribute, "ge", values[0]) & self.compare(attribute, "le", values[1])
            return ~q if name == "NotBetween" else q
        raise errors.bad_query(f"The query function 'Microsoft.Dynamics.CRM.{name}' is not "
                               "supported by the embedded CRM.")

    def coerce_text(self, attribute: Attribute, value):
        """Query functions take their values as strings: read them as the attribute's type."""
        if not isinstance(value, str) or attribute.type in STRING_TYPES:
            return value
        match = TOKEN_RE.fullmatch(value.strip())
        if match and match.lastgroup in ("guid", "datetime", "date", "number"):
            return self.literal(Token(match.lastgroup, value.strip(), 0))
        if value in ("true", "false"):
            return value == "true"
        return value

    # --- operands ---
    def attribute(self, name: str) -> Attribute:
        attribute = self.entity.web_attrs.get(name)
        if attribute is None:
            raise errors.no_property(self.entity.odata_type, name)
        return attribute

    def literal(self, token: Token):
        if token.kind == "string":
            return token.text[1:-1].replace("''", "'")
        if token.kind == "number":
            text = token.text.rstrip("mMdDfFlL")
            return float(text) if any(c in text for c in ".eE") else int(text)
        if token.kind == "guid":
            return uuid.UUID(token.text)
        if token.kind in ("datetime", "date"):
            return ("date", token.text) if token.kind == "date" else (
                "datetime", parse_datetime(token.text))
        if token.kind == "name" and token.text in ("true", "false"):
            return token.text == "true"
        if token.kind == "name" and token.text == "null":
            return NULL
        raise syntax_error(self.text, token.pos)

    def operand(self, attribute: Attribute, value, operator: str):
        """The literal in the form the attribute is stored, or a type error like Dataverse's."""
        kind = attribute.type
        column = field_of(self.entity, attribute) in ("rowid", *COLUMNS.values())
        if kind in STRING_TYPES and isinstance(value, str):
            return value
        if kind in NUMBER_TYPES and isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        if kind == "Boolean" and isinstance(value, bool):
            return value
        if kind in ("Uniqueidentifier", "Lookup", "Customer", "Owner"):
            guid = value if isinstance(value, uuid.UUID) else None
            if guid is None and isinstance(value, str):
                try:
                    guid = uuid.UUID(value)
                except ValueError:
                    guid = None
            if guid is not None:
                return guid if column else str(guid)
        if kind == "DateTime" and isinstance(value, tuple):
            form, parsed = value
            if form == "date":
                if attribute.date_only and not column:
                    return parsed
                parsed = parse_datetime(parsed + "T00:00:00Z")
            if parsed is not None:
                if column:
                    return parsed
                return parsed.date().isoformat() if attribute.date_only else format_datetime(parsed)
        raise errors.bad_query(
            f"A binary operator with incompatible types was detected. Found operand types "
            f"'{attribute.type}' and '{type(value).__name__}' for operator kind '{operator}'.")

    def compare(self, attribute: Attribute, operator: str, value) -> Q:
        field = field_of(self.entity, attribute)
        if value is NULL:
            if operator not in ("eq", "ne"):
                raise errors.bad_query(f"The operator '{operator}' cannot compare with null.")
            return Q(**{f"{field}__isnull": operator == "eq"})
        value = self.operand(attribute, value, operator)
        text = attribute.type in STRING_TYPES
        if operator == "eq" and text and (indexed := self.by_index(attribute, [value])):
            return indexed
        if operator in ("eq", "ne"):
            q = Q(**{f"{field}__iexact" if text else field: value})
            # SQL semantics: `ne` never matches a null value
            return q if operator == "eq" else Q(**{f"{field}__isnull": False}) & ~q
        lookup = {"gt": "gt", "ge": "gte", "lt": "lt", "le": "lte"}[operator]
        return Q(**{f"{field}__{lookup}": value})

    def membership(self, attribute: Attribute, values: list) -> Q:
        field = field_of(self.entity, attribute)
        if not values:
            return Q(pk__in=[])
        operands = [self.operand(attribute, v, "In") for v in values]
        if attribute.type in STRING_TYPES and (indexed := self.by_index(attribute, operands)):
            return indexed
        return Q(**{f"{field}__in": operands})

    def by_index(self, attribute: Attribute, values: list) -> Q | None:
        """The rows whose indexed attribute equals one of `values`, read from the index; None
        when the index cannot answer: an attribute it does not hold, a value too long for it, or
        a comparison under `not` (SQL's `not` keeps rows without a value out; the index does not
        know them)."""
        name = self.entity.logical_name
        if self.negations or attribute.name not in keys.indexed(name):
            return None
        folded = [keys.indexable(value) for value in values]
        if not folded or None in folded:
            return None
        return self.index_q([(attribute.name, folded)])


def parse_filter(entity: Entity, text: str) -> Q:
    return FilterParser(entity, text).parse()
