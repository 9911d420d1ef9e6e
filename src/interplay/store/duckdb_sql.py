"""DuckDB's SQL vocabulary: the spellings the question modules compose their statements from.

`clickhouse_sql` has the same names, spelled for ClickHouse; a store's `sql` is one of the two, so a
question module writes `store.sql.quantile("duration_ns", 0.5)` and gets its engine's spelling. Standard
SQL that both engines read alike (the window and entry predicates of `predicates`, re-exported here)
stays written once.

    >>> quantile("duration_ns", 0.5)
    'quantile_cont(duration_ns, 0.5)'
    >>> ordered_list("v", ["time_ns"], "w = 'b'")
    "list(v ORDER BY time_ns) FILTER (WHERE w = 'b')"
"""
from __future__ import annotations

import json
import re

from .predicates import ENTRY as ENTRY
from .predicates import SYSTEM_ENTRY as SYSTEM_ENTRY
from .predicates import entry as entry
from .predicates import window_where as window_where

ENGINE = "duckdb"
TEXT_LIST_PARAM = "?::VARCHAR[]"  # a `?` bound to a list of strings, as a list
STAGES_AS_CTES = True  # a stage is a MATERIALIZED CTE (see base.Stages)


# -- functions that differ only in spelling -----------------------------------------------------------
def quantile(expr: str, q: float) -> str:
    """The exact q-quantile, linear between the order statistics around (n - 1) q."""
    return f"quantile_cont({expr}, {q})"


def arg_min(value: str, key: str) -> str:
    return f"arg_min({value}, {key})"


def arg_max(value: str, key: str) -> str:
    return f"arg_max({value}, {key})"


def any_value(expr: str) -> str:
    return f"any_value({expr})"


def bool_or(expr: str) -> str:
    return f"bool_or({expr})"


def idiv(a: str, b: str) -> str:
    """Integer division (a and b as written: parenthesise what needs it)."""
    return f"{a} // {b}"


def hash(*exprs: str) -> str:  # noqa: A001 - the SQL function's name
    return f"hash({', '.join(exprs)})"


def isfinite(expr: str) -> str:
    return f"isfinite({expr})"


def chr(code: int) -> str:  # noqa: A001 - the SQL function's name
    return f"chr({int(code)})"


def try_double(expr: str) -> str:
    """expr as DOUBLE, NULL where it is not a number."""
    return f"TRY_CAST({expr} AS DOUBLE)"


def try_bigint(expr: str) -> str:
    return f"TRY_CAST({expr} AS BIGINT)"


# -- text ----------------------------------------------------------------------------------------
def literal(text: str) -> str:
    """A string literal of `text` (DuckDB's have no backslash escapes)."""
    return "'" + text.replace("'", "''") + "'"


def regexp_matches(expr: str, pattern: str) -> str:
    """Whether the regular expression `pattern` (Python text, RE2 syntax) matches anywhere in expr."""
    return f"regexp_matches({expr}, {literal(pattern)})"


def regexp_replace(expr: str, pattern: str, replacement: str, every: bool = True) -> str:
    """expr with the first (every: each) match of `pattern` replaced by `replacement`."""
    flags = ", 'g'" if every else ""
    return f"regexp_replace({expr}, {literal(pattern)}, {literal(replacement)}{flags})"


# -- JSON text ----------------------------------------------------------------------------------
def json_text(column: str, path: str) -> str:
    """The text at a JSON path (`$."key"`, `$[0].span_id`) of a JSON text column; NULL when missing."""
    return f"json_extract_string({column}, {literal(path)})"


def json_list_texts(column: str, field: str) -> str:
    """The list of `field` of every object of a JSON list text column."""
    return f"json_extract_string({column}, '$[*].{field}')"


# -- span attributes: JSON object text here (maps on ClickHouse) ------------------------------------
NO_ATTRS = "NULL"  # an attributes value for spans whose attributes a query drops


def attr(column: str, key: str) -> str:
    """One attribute's value as text (NULL when missing)."""
    return json_text(column, f'$."{key}"')


def attrs_text(column: str) -> str:
    """The attributes as JSON object text (what a question returns to Python)."""
    return column


def attrs_of(text: str) -> str:
    """Attributes from JSON object text, as a span's attributes column holds them."""
    return text


def attr_struct(column: str, keys: list[str]) -> str:
    """Every key read in one pass, as a struct of texts (read with `struct_attr`)."""
    return f"json_transform({column}, '{json.dumps(dict.fromkeys(keys, 'VARCHAR'))}')"


def struct_attr(struct: str, key: str) -> str:
    return f"struct_extract({struct}, '{key}')"


def attr_keys_match(column: str, prefixes: list[str]) -> str:
    """Whether a key starts with one of `prefixes` (here a test of the text, which a value may pass too:
    a prefilter)."""
    stems, tail = list(prefixes), ""
    if all(p.endswith(".") for p in prefixes):  # `"(?:gen_ai|llm)\.`: the shared dot once
        stems, tail = [p[:-1] for p in prefixes], "\\."
    return regexp_matches(column, '"(?:' + "|".join(re.escape(p) for p in stems) + ")" + tail)


def attrs_contain(column: str) -> str:
    """Whether an attribute value holds the text of the one `?` parameter (here the whole text: keys
    too, a prefilter)."""
    return f"position(? IN {column}) > 0"


# -- aggregates in an order --------------------------------------------------------------------------
def ordered_list(value: str, keys: list[str], where: str | None = None) -> str:
    """The group's values as a list, in the order of `keys` (ascending); only rows where `where` holds."""
    return f"list({value} ORDER BY {', '.join(keys)}){_filter(where)}"


def ordered_join(value: str, sep: str, keys: list[str], where: str | None = None) -> str:
    """The group's texts joined by `sep` (an expression), in the order of `keys`; only rows where `where` holds."""
    return f"string_agg({value}, {sep} ORDER BY {', '.join(keys)}){_filter(where)}"


def _filter(where: str | None) -> str:
    return f" FILTER (WHERE {where})" if where else ""


def star_except(columns: str) -> str:
    """`*` without these columns (comma-separated)."""
    return f"* EXCLUDE ({columns})"


# -- statements ----------------------------------------------------------------------------------
def create_temp_table(name: str, select: str) -> str:
    return f"CREATE TEMP TABLE {name} AS {select}"


def update(table: str, sets: str, where: str) -> str:
    return f"UPDATE {table} SET {sets} WHERE {where}"


def create_table(name: str, columns: list[tuple[str, str]], key: str) -> str:
    """CREATE TABLE IF NOT EXISTS of (column, type) pairs (types VARCHAR, BIGINT), `key` its primary key."""
    cols = ", ".join(f"{c} {t}{' PRIMARY KEY' if c == key else ''}" for c, t in columns)
    return f"CREATE TABLE IF NOT EXISTS {name} ({cols})"
