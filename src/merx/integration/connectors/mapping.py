"""The declarative mapping of a connector: how a source record (a CSV row, a JSON object)
becomes a target record, with the reason when it cannot. Pure logic, no database.

```json
{
  "fields": {
    "sku":      {"source": "Article", "required": true, "transform": ["strip", "upper"],
                 "pattern": "^[A-Z0-9-]+$"},
    "location": {"source": "Site", "value_map": {"MAIN": "WH1", "SHOP": "ST1"}, "strict_map": true,
                 "default": "WH1"},
    "quantity": {"source": "Qty", "type": "integer", "min": 0, "max": 1000000,
                 "unit": {"source": "UoM", "factors": {"EA": 1, "DZ": 12, "BOX": 24}, "default": "EA"}}
  },
  "csv": {"delimiter": ";"},
  "json": {"records_path": "items"}
}
```

Field options: `source` (column or dotted JSON path; default: the field name), `type`
(string, integer, decimal, boolean, date), `required`, `default`, `transform` (strip, upper,
lower), `value_map` (+ `strict_map`: unknown values are errors), `unit` (`factors` per unit
read from the `source` column, or a fixed `multiply`), and rules `min`, `max`, `pattern`,
`choices`, `max_length`.

`columns` lists the output fields in order (CSV column order, JSON key order). When the
mapping omits it, the order the fields were given in is recorded there on save: PostgreSQL
stores the mapping as JSONB, which does not keep an object's key order.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from merx.core.errors import FieldError

TYPES = ("string", "integer", "decimal", "boolean", "date")
TRANSFORMS = ("strip", "upper", "lower")
FIELD_OPTIONS = {"source", "type", "required", "default", "transform", "value_map", "strict_map", "unit", "min",
                 "max", "pattern", "choices", "max_length", "description"}
_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f"}


class RowProblem(Exception):
    def __init__(self, field: str, message: str, value: Any = None) -> None:
        super().__init__(message)
        self.field, self.message, self.value = field, message, value


def check_mapping(mapping: dict[str, Any], required_fields: tuple[str, ...],
                  known_fields: tuple[str, ...]) -> list[FieldError]:
    """Problems with a mapping itself, named by their path (mapping.fields.quantity.type)."""
    errors: list[FieldError] = []
    fields = mapping.get("fields")
    if not isinstance(fields, dict) or not fields:
        return [FieldError("mapping.fields", "must be an object of target field -> options")]
    for name in required_fields:
        if name not in fields:
            errors.append(FieldError(f"mapping.fields.{name}", "is required by this target", "missing"))
    for name, spec in fields.items():
        where = f"mapping.fields.{name}"
        if name not in known_fields:
            errors.append(FieldError(where, f"is not a field of this target; known: {', '.join(known_fields)}"))
            continue
        if not isinstance(spec, dict):
            errors.append(FieldError(where, "must be an object"))
            continue
        for opt in spec:
            if opt not in FIELD_OPTIONS:
                errors.append(FieldError(f"{where}.{opt}", "unknown option"))
        if spec.get("type", "string") not in TYPES:
            errors.append(FieldError(f"{where}.type", f"must be one of {', '.join(TYPES)}"))
        for t in spec.get("transform", []) or []:
            if t not in TRANSFORMS:
                errors.append(FieldError(f"{where}.transform", f"{t!r} is not one of {', '.join(TRANSFORMS)}"))
        if "value_map" in spec and not isinstance(spec["value_map"], dict):
            errors.append(FieldError(f"{where}.value_map", "must be an object of source value -> value"))
        unit = spec.get("unit")
        if unit is not None:
            if not isinstance(unit, dict) or not ("factors" in unit or "multiply" in unit):
                errors.append(FieldError(f"{where}.unit", "needs 'factors' (with 'source') or 'multiply'"))
            else:
                try:
                    for f in (unit.get("factors") or {}).values():
                        Decimal(str(f))
                    if "multiply" in unit:
                        Decimal(str(unit["multiply"]))
                except InvalidOperation:
                    errors.append(FieldError(f"{where}.unit", "factors must be numbers"))
        if "pattern" in spec:
            try:
                re.compile(spec["pattern"])
            except re.error as e:
                errors.append(FieldError(f"{where}.pattern", f"is not a regular expression: {e}"))
    return errors


def _lookup(record: dict[str, Any], path: str) -> Any:
    if path in record:
        return record[path]
    current: Any = record
    for part in path.split("."):
        if not isinstance(current, dict) or part not in current:
            return None
        current = current[part]
    return current


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and v.strip() == "")


def _convert(name: str, kind: str, v: Any) -> Any:
    if kind == "string":
        return str(v)
    if kind == "integer":
        if isinstance(v, bool):
            raise RowProblem(name, "must be a whole number", v)
        if isinstance(v, int):
            return v
        try:
            d = Decimal(str(v).strip().replace(" ", ""))
        except InvalidOperation:
            raise RowProblem(name, "must be a whole number", v) from None
        if d != d.to_integral_value():
            raise RowProblem(name, "must be a whole number", v)
        return int(d)
    if kind == "decimal":
        if isinstance(v, float):
            v = repr(v)
        try:
            d = Decimal(str(v).strip().replace(" ", ""))
        except InvalidOperation:
            raise RowProblem(name, "must be a decimal number", v) from None
        if not d.is_finite():
            raise RowProblem(name, "must be a finite number", v)
        return d
    if kind == "boolean":
        s = str(v).strip().lower()
        if s in _TRUE:
            return True
        if s in _FALSE:
            return False
        raise RowProblem(name, "must be true/false (1/0, yes/no)", v)
    if kind == "date":
        try:
            return dt.date.fromisoformat(str(v).strip()[:10])
        except ValueError:
            raise RowProblem(name, "must be a date YYYY-MM-DD", v) from None
    raise RowProblem(name, f"unknown type {kind}", v)


def with_column_order(mapping: dict[str, Any]) -> dict[str, Any]:
    """The mapping with `columns` filled from the fields' order as given, if it is absent."""
    fields = mapping.get("fields")
    if isinstance(fields, dict) and not mapping.get("columns"):
        return {**mapping, "columns": list(fields)}
    return mapping


def map_record(mapping: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """One source record -> target fields; raises RowProblem naming the first bad field."""
    out: dict[str, Any] = {}
    fields = mapping["fields"]
    order = [c for c in mapping.get("columns") or [] if c in fields]
    order += [c for c in fields if c not in order]
    for name, spec in ((c, fields[c]) for c in order):
        raw = _lookup(record, spec.get("source", name))
        if isinstance(raw, str):
            for t in spec.get("transform", ["strip"]) or []:
                raw = raw.strip() if t == "strip" else raw.upper() if t == "upper" else raw.lower()
        if _blank(raw):
            if "default" in spec:
                raw = spec["default"]
            elif spec.get("required", False):
                raise RowProblem(name, "is required", None)
            else:
                out[name] = None
                continue
        if "value_map" in spec:
            vm = spec["value_map"]
            key = str(raw)
            if key in vm:
                raw = vm[key]
            elif spec.get("strict_map"):
                raise RowProblem(name, f"{key!r} is not one of the mapped values ({', '.join(map(str, vm))})", key)
        kind = spec.get("type", "string")
        unit = spec.get("unit")
        if unit is not None:
            value = _convert(name, "decimal", raw)
            if "multiply" in unit:
                value = value * Decimal(str(unit["multiply"]))
            else:
                unit_name = _lookup(record, unit.get("source", f"{name}_unit"))
                unit_name = (str(unit_name).strip() if not _blank(unit_name) else unit.get("default"))
                factors = unit.get("factors", {})
                if unit_name not in factors:
                    raise RowProblem(name, f"unknown unit {unit_name!r}; known: {', '.join(factors)}", unit_name)
                value = value * Decimal(str(factors[unit_name]))
            value = _convert(name, kind, value) if kind in ("integer", "decimal") else value
        else:
            value = _convert(name, kind, raw)
        if "choices" in spec and value not in spec["choices"]:
            raise RowProblem(name, f"must be one of {', '.join(map(str, spec['choices']))}", value)
        if "min" in spec and value < Decimal(str(spec["min"])):
            raise RowProblem(name, f"must be at least {spec['min']}", _plain(value))
        if "max" in spec and value > Decimal(str(spec["max"])):
            raise RowProblem(name, f"must be at most {spec['max']}", _plain(value))
        if "pattern" in spec and not re.fullmatch(spec["pattern"], str(value)):
            raise RowProblem(name, f"does not match {spec['pattern']}", value)
        if "max_length" in spec and len(str(value)) > int(spec["max_length"]):
            raise RowProblem(name, f"is longer than {spec['max_length']} characters", value)
        out[name] = value
    return out


def _plain(v: Any) -> Any:
    return str(v) if isinstance(v, Decimal) else v


@dataclass
class ParsedRow:
    number: int  # 1-based data row number (the header is row 0 in CSV)
    record: dict[str, Any] | None
    problem: RowProblem | None = None
