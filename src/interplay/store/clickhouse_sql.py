"""ClickHouse's SQL vocabulary: the same names as `duckdb_sql`, spelled for ClickHouse.

Answers agree with DuckDB's: quantiles are exact and interpolate alike (quantileExactInclusive), a
missing attribute reads as NULL, ordered aggregates sort by the same keys. A span's attributes
are maps here (JSON text on DuckDB): `attr` reads them by key, `attrs_text` gives their text.

    >>> quantile("duration_ns", 0.5)
    'quantileExactInclusive(0.5)(duration_ns)'
    >>> ordered_list("v", ["time_ns"], "w = 'b'")
    "arrayMap(x -> x.2, arraySort(x -> x.1, groupArrayIf((time_ns, v), w = 'b')))"
"""
from __future__ import annotations

from .predicates import ENTRY as ENTRY
from .predicates import SYSTEM_ENTRY as SYSTEM_ENTRY
from .predicates import entry as entry
from .predicates import window_where as window_where

ENGINE = "clickhouse"
TEXT_LIST_PARAM = "CAST(? AS Array(String))"
STAGES_AS_CTES = False  # a stage is a temporary table (see base.Stages)
_TYPES = {"VARCHAR": "String", "BIGINT": "Int64"}


# -- functions that differ only in spelling -----------------------------------------------------------
def quantile(expr: str, q: float) -> str:
    """The exact q-quantile, linear between the order statistics around (n - 1) q (as DuckDB's quantile_cont)."""
    return f"quantileExactInclusive({q})({expr})"


def arg_min(value: str, key: str) -> str:
    return f"argMin({value}, {key})"


def arg_max(value: str, key: str) -> str:
    return f"argMax({value}, {key})"


def any_value(expr: str) -> str:
    return f"any({expr})"


def bool_or(expr: str) -> str:
    return f"max({expr})"


def idiv(a: str, b: str) -> str:
    return f"{a} DIV {b}"


def hash(*exprs: str) -> str:  # noqa: A001 - the SQL function's name
    return f"cityHash64({', '.join(exprs)})"


def isfinite(expr: str) -> str:
    return f"isFinite({expr})"


def chr(code: int) -> str:  # noqa: A001 - the SQL function's name
    return f"char({int(code)})"


def try_double(expr: str) -> str:
    return f"accurateCastOrNull({expr}, 'Float64')"


def try_bigint(expr: str) -> str:
    return f"accurateCastOrNull({expr}, 'Int64')"


# -- text ----------------------------------------------------------------------------------------
def literal(text: str) -> str:
    """A string literal of `text` (ClickHouse's take backslash escapes: each backslash is doubled)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def regexp_matches(expr: str, pattern: str) -> str:
    return f"match({expr}, {literal(pattern)})"


def regexp_replace(expr: str, pattern: str, replacement: str, every: bool = True) -> str:
    fn = "replaceRegexpAll" if every else "replaceRegexpOne"
    return f"{fn}({expr}, {literal(pattern)}, {literal(replacement)})"


# -- JSON text ----------------------------------------------------------------------------------
def json_text(column: str, path: str) -> str:
    """The text at a JSON path; NULL when missing (JSON_VALUE gives '' then)."""
    return f"nullIf(JSON_VALUE({column}, {literal(path)}), '')"


def json_list_texts(column: str, field: str) -> str:
    return f"arrayMap(e -> JSONExtractString(e, '{field}'), JSONExtractArrayRaw({column}))"


# -- span attributes: maps (the exporter's SpanAttributes and ResourceAttributes, see _ch_sources) -------
NO_ATTRS = "map()"


def attr(column: str, key: str) -> str:
    """One attribute's value, read from the map by key; NULL when missing or empty."""
    return f"nullIf({column}[{literal(key)}], '')"


def attrs_text(column: str) -> str:
    return f"toJSONString({column})"


def attrs_of(text: str) -> str:
    return f"JSONExtract({text}, 'Map(String, String)')"


def attr_struct(column: str, keys: list[str]) -> str:
    """The map itself: reading a key of it is already one lookup (see struct_attr)."""
    return column


def struct_attr(struct: str, key: str) -> str:
    return attr(struct, key)


def attr_keys_match(column: str, prefixes: list[str]) -> str:
    tests = " OR ".join(f"startsWith(k, {literal(p)})" for p in prefixes)
    return f"arrayExists(k -> {tests}, mapKeys({column}))"


def attrs_contain(column: str) -> str:
    return f"arrayExists(v -> position(v, ?) > 0, mapValues({column}))"


# -- aggregates in an order --------------------------------------------------------------------------
def ordered_list(value: str, keys: list[str], where: str | None = None) -> str:
    """The values sorted by their keys: (key, value) pairs gathered, sorted, the values kept."""
    key = keys[0] if len(keys) == 1 else f"({', '.join(keys)})"
    pairs = f"groupArrayIf(({key}, {value}), {where})" if where else f"groupArray(({key}, {value}))"
    return f"arrayMap(x -> x.2, arraySort(x -> x.1, {pairs}))"


def ordered_join(value: str, sep: str, keys: list[str], where: str | None = None) -> str:
    return f"arrayStringConcat({ordered_list(value, keys, where)}, {sep})"


def star_except(columns: str) -> str:
    return f"* EXCEPT ({columns})"


# -- statements ----------------------------------------------------------------------------------
_TEMP_TABLE_AS = " ENGINE = Memory AS "  # where the store finds a temporary table's query (see _ch_sources)


def create_temp_table(name: str, select: str) -> str:
    return f"CREATE TEMPORARY TABLE {name}{_TEMP_TABLE_AS}{select}"


def update(table: str, sets: str, where: str) -> str:
    return f"ALTER TABLE {table} UPDATE {sets} WHERE {where}"


def create_table(name: str, columns: list[tuple[str, str]], key: str) -> str:
    """Nullable columns but the key, a ReplacingMergeTree ordered by the key."""
    cols = ", ".join(f"{c} {_TYPES[t] if c == key else f'Nullable({_TYPES[t]})'}" for c, t in columns)
    return f"CREATE TABLE IF NOT EXISTS {name} ({cols}) ENGINE = ReplacingMergeTree ORDER BY {key}"
