"""The segment filter language: a small, safe expression language over profile fields.

    orders_count >= 3 and days_since_last_order <= 90 and country in ("PL", "RO")
    not (rfm_segment == "Lost" or lifetime_value < 10.5) and email is not null

Grammar (keywords are case-insensitive):

    expression := or_expr
    or_expr    := and_expr ( "or" and_expr )*
    and_expr   := unary ( "and" unary )*
    unary      := "not" unary | "(" expression ")" | comparison
    comparison := FIELD ( ("==" | "=" | "!=" | "<" | "<=" | ">" | ">=") literal
                        | ["not"] "in" "(" literal ( "," literal )* ")"
                        | "between" literal "and" literal
                        | "is" ["not"] "null" )
    literal    := NUMBER | STRING ("..." or '...') | "true" | "false"

Nothing is ever handed to eval(): the text is tokenised and parsed by hand into a tree, the
tree is type-checked against the known fields (unknown fields, wrong types and bad
operators are errors that name the position), and evaluation runs vectorised over columns
(numpy), so one expression over a million profiles costs milliseconds.

Null semantics follow SQL: a comparison with a missing value is false (so `x != 1` does not
match profiles without x); use `is null` / `is not null` to test for missing values.
Why a parser of our own instead of a library: staff type these expressions, so they must not
reach Python's `eval` or raw SQL, and every field must map to a profile column we choose. A
general expression library (e.g. `simpleeval`, `lark` with a grammar) would still need this
field map and the SQL translation, which are most of this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

MAX_LENGTH = 4000
MAX_DEPTH = 40
KEYWORDS = {"and", "or", "not", "in", "is", "null", "true", "false", "between"}
COMPARISONS = {"==", "!=", "<", "<=", ">", ">="}


class SegmentSyntaxError(ValueError):
    def __init__(self, message: str, position: int, text: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        self.text = text

    def pointer(self) -> str:
        """The expression with a caret under the offending position."""
        return f"{self.text}\n{' ' * self.position}^" if self.text else ""


@dataclass(frozen=True)
class Token:
    kind: str  # ident | keyword | number | string | op | lparen | rparen | comma | end
    value: Any
    position: int


_TOKEN_RE = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>-?\d+(?:\.\d+)?(?![A-Za-z_]))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|<|>|=)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
  | (?P<quote>["'])
""", re.VERBOSE)


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_LENGTH:
        raise SegmentSyntaxError(f"expression longer than {MAX_LENGTH} characters", MAX_LENGTH, text[:80])
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            raise SegmentSyntaxError(f"unexpected character {text[pos]!r}", pos, text)
        kind = m.lastgroup
        if kind == "space":
            pos = m.end()
            continue
        if kind == "quote":
            value, end = _read_string(text, pos)
            tokens.append(Token("string", value, pos))
            pos = end
            continue
        raw = m.group()
        if kind == "number":
            tokens.append(Token("number", float(raw) if "." in raw else int(raw), pos))
        elif kind == "ident":
            low = raw.lower()
            tokens.append(Token("keyword", low, pos) if low in KEYWORDS else Token("ident", raw, pos))
        elif kind == "op":
            tokens.append(Token("op", "==" if raw == "=" else raw, pos))
        else:
            tokens.append(Token(kind, raw, pos))  # type: ignore[arg-type]
        pos = m.end()
    tokens.append(Token("end", None, len(text)))
    return tokens


def _read_string(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    out = []
    pos = start + 1
    while pos < len(text):
        ch = text[pos]
        if ch == "\\" and pos + 1 < len(text):
            out.append(text[pos + 1])
            pos += 2
            continue
        if ch == quote:
            return "".join(out), pos + 1
        out.append(ch)
        pos += 1
    raise SegmentSyntaxError("string is not closed", start, text)


# -- syntax tree -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Compare:
    field: str
    op: str  # == != < <= > >= in not_in between is_null not_null
    value: Any
    position: int


@dataclass(frozen=True)
class Not:
    operand: "Node"


@dataclass(frozen=True)
class BoolOp:
    op: str  # and | or
    operands: tuple["Node", ...]


Node = Union[Compare, Not, BoolOp]


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def error(self, message: str, token: Token | None = None) -> SegmentSyntaxError:
        return SegmentSyntaxError(message, (token or self.current).position, self.text)

    def advance(self) -> Token:
        token = self.current
        self.index += 1
        return token

    def accept_keyword(self, word: str) -> bool:
        if self.current.kind == "keyword" and self.current.value == word:
            self.index += 1
            return True
        return False

    def expect(self, kind: str, what: str) -> Token:
        if self.current.kind != kind:
            raise self.error(f"expected {what}, found {self._describe(self.current)}")
        return self.advance()

    @staticmethod
    def _describe(token: Token) -> str:
        if token.kind == "end":
            return "the end of the expression"
        if token.kind == "string":
            return f'"{token.value}"'
        return repr(str(token.value))

    def parse(self) -> Node:
        if self.current.kind == "end":
            raise self.error("the expression is empty")
        node = self.or_expr()
        if self.current.kind != "end":
            raise self.error(f"expected 'and', 'or' or the end, found {self._describe(self.current)}")
        return node

    def or_expr(self) -> Node:
        parts = [self.and_expr()]
        while self.accept_keyword("or"):
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else BoolOp("or", tuple(parts))

    def and_expr(self) -> Node:
        parts = [self.unary()]
        while self.accept_keyword("and"):
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else BoolOp("and", tuple(parts))

    def unary(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"the expression nests deeper than {MAX_DEPTH} levels")
        try:
            if self.accept_keyword("not"):
                return Not(self.unary())
            if self.current.kind == "lparen":
                self.advance()
                node = self.or_expr()
                self.expect("rparen", "')'")
                return node
            return self.comparison()
        finally:
            self.depth -= 1

    def literal(self) -> Any:
        token = self.current
        if token.kind in ("number", "string"):
            self.advance()
            return token.value
        if token.kind == "keyword" and token.value in ("true", "false"):
            self.advance()
            return token.value == "true"
        if token.kind == "keyword" and token.value == "null":
            raise self.error("compare with null using 'is null' or 'is not null'")
        raise self.error(f"expected a value (number, \"text\", true or false), found {self._describe(token)}")

    def comparison(self) -> Node:
        token = self.current
        if token.kind != "ident":
            raise self.error(f"expected a field name, found {self._describe(token)}")
        self.advance()
        name = token.value
        nxt = self.current
        if nxt.kind == "op":
            self.advance()
            return Compare(name, nxt.value, self.literal(), token.position)
        if self.accept_keyword("is"):
            negate = self.accept_keyword("not")
            if not self.accept_keyword("null"):
                raise self.error("expected 'null' after 'is'")
            return Compare(name, "not_null" if negate else "is_null", None, token.position)
        if self.accept_keyword("between"):
            low = self.literal()
            if not self.accept_keyword("and"):
                raise self.error("expected 'and' in 'between ... and ...'")
            return Compare(name, "between", (low, self.literal()), token.position)
        negate = False
        if nxt.kind == "keyword" and nxt.value == "not":
            self.advance()
            negate = True
            if not (self.current.kind == "keyword" and self.current.value == "in"):
                raise self.error("expected 'in' after 'not'")
        if self.accept_keyword("in"):
            self.expect("lparen", "'(' to start the list")
            values = [self.literal()]
            while self.current.kind == "comma":
                self.advance()
                values.append(self.literal())
            self.expect("rparen", "')' or ','")
            return Compare(name, "not_in" if negate else "in", tuple(values), token.position)
        raise self.error(f"expected a comparison (==, !=, <, <=, >, >=, in, between, is) after {name!r}, "
                         f"found {self._describe(nxt)}")


def parse(text: str) -> Node:
    return _Parser(text).parse()


# -- type checking ---------------------------------------------------------------------------------

# Field types: "number", "string", "bool".
_ORDERING = {"<", "<=", ">", ">=", "between"}


def check(node: Node, fields: dict[str, str], text: str) -> None:
    """Raises SegmentSyntaxError when a field is unknown or compared with the wrong type."""
    if isinstance(node, BoolOp):
        for operand in node.operands:
            check(operand, fields, text)
        return
    if isinstance(node, Not):
        check(node.operand, fields, text)
        return
    kind = fields.get(node.field)
    if kind is None:
        close = [f for f in fields if f.startswith(node.field[:4])][:3]
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known fields: {', '.join(sorted(fields))}"
        raise SegmentSyntaxError(f"unknown field {node.field!r}{hint}", node.position, text)
    if node.op in ("is_null", "not_null"):
        return
    values = node.value if node.op in ("in", "not_in", "between") else (node.value,)
    for value in values:
        ok = (kind == "number" and isinstance(value, (int, float)) and not isinstance(value, bool)) or \
             (kind == "string" and isinstance(value, str)) or (kind == "bool" and isinstance(value, bool))
        if not ok:
            raise SegmentSyntaxError(f"{node.field} is a {kind}; {value!r} is not", node.position, text)
    if kind != "number" and node.op in _ORDERING:
        raise SegmentSyntaxError(f"{node.field} is a {kind}; it supports ==, !=, in and is null, not {node.op}",
                                 node.position, text)


def compile_expression(text: str, fields: dict[str, str]) -> Node:
    node = parse(text)
    check(node, fields, text)
    return node


def referenced_fields(node: Node) -> set[str]:
    if isinstance(node, BoolOp):
        return set().union(*(referenced_fields(o) for o in node.operands))
    if isinstance(node, Not):
        return referenced_fields(node.operand)
    return {node.field}


# -- evaluation over columns ------------------------------------------------------------------------

class Columns:
    """Profile facts as columns: numbers and booleans as float64 arrays (NaN = missing),
    strings dictionary-encoded (int32 codes, -1 = missing) so that == and in are integer
    comparisons."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.numbers: dict[str, np.ndarray] = {}
        self.codes: dict[str, np.ndarray] = {}
        self.categories: dict[str, dict[str, int]] = {}

    def add_number(self, name: str, values: Any) -> None:
        self.numbers[name] = np.asarray(values, dtype=np.float64)

    def add_strings(self, name: str, values: list[str | None]) -> None:
        lookup: dict[str, int] = {}
        codes = np.fromiter((-1 if v is None else lookup.setdefault(v, len(lookup)) for v in values),
                            dtype=np.int32, count=len(values))
        self.codes[name] = codes
        self.categories[name] = lookup

    def add_codes(self, name: str, codes: np.ndarray, categories: list[str]) -> None:
        self.codes[name] = codes.astype(np.int32, copy=False)
        self.categories[name] = {c: i for i, c in enumerate(categories)}


def evaluate(node: Node, cols: Columns) -> np.ndarray:
    if isinstance(node, BoolOp):
        result = evaluate(node.operands[0], cols)
        for operand in node.operands[1:]:
            other = evaluate(operand, cols)
            result = (result & other) if node.op == "and" else (result | other)
        return result
    if isinstance(node, Not):
        return ~evaluate(node.operand, cols)
    if node.field in cols.codes:
        codes = cols.codes[node.field]
        lookup = cols.categories[node.field]
        present = codes >= 0
        if node.op == "is_null":
            return ~present
        if node.op == "not_null":
            return present
        if node.op in ("==", "!="):
            code = lookup.get(node.value, -2)
            return (codes == code) if node.op == "==" else (present & (codes != code))
        # A lookup table indexed by code (the last slot stands for -1, missing): one gather
        # instead of np.isin's sort.
        table = np.zeros(len(lookup) + 1, dtype=bool)
        for v in node.value:
            if v in lookup:
                table[lookup[v]] = True
        inside = table[codes]
        return inside if node.op == "in" else (present & ~inside)
    values = cols.numbers[node.field]
    present = ~np.isnan(values)
    op = node.op
    if op == "is_null":
        return ~present
    if op == "not_null":
        return present
    if op == "between":
        low, high = (float(v) for v in node.value)
        return (values >= low) & (values <= high)
    if op in ("in", "not_in"):
        inside = np.isin(values, np.array([float(v) for v in node.value]))
        return inside if op == "in" else (present & ~inside)
    target = float(node.value)
    with np.errstate(invalid="ignore"):
        if op == "==":
            return values == target
        if op == "!=":
            return present & (values != target)
        if op == "<":
            return values < target
        if op == "<=":
            return values <= target
        if op == ">":
            return values > target
        return values >= target
