"""DuckDB-flavoured SQL → ClickHouse SQL: `?` placeholders and a handful of function spellings.

The layers above write DuckDB SQL with `?` parameters. ClickHouse (server over HTTP and chDB alike)
binds parameters by name and type (`{p0:Int64}`), so every `?` outside a string literal becomes a
typed named placeholder. A few functions differ only in name or argument order and are rewritten
here, as are `regexp_replace`, `list(v ORDER BY k, …)` and `string_agg(v, sep ORDER BY k, …)` (with
or without FILTER (WHERE c)), `json_transform` to a struct of VARCHARs and `struct_extract` from it,
`* EXCLUDE (…)`, `::VARCHAR[]` casts and string literals (DuckDB's have no backslash escapes,
ClickHouse's do: each backslash is doubled). Anything else (QUALIFY, other list/struct functions)
is not translated and fails loudly in ClickHouse.

    >>> translate("SELECT quantile_cont(d, 0.5) FROM spans WHERE s = ?", ["x"])
    ('SELECT quantileExactInclusive(0.5)(d) FROM spans WHERE s = {p0:String}', {'p0': 'x'})
"""
from __future__ import annotations

import json
import re
from typing import Any

# DuckDB name → ClickHouse name (same arguments).
_RENAMES = {
    "arg_min": "argMin", "arg_max": "argMax", "any_value": "any", "bool_or": "max", "bool_and": "min",
    "hash": "cityHash64", "isfinite": "isFinite", "approx_count_distinct": "uniq",
    "regexp_matches": "match", "epoch_ns": "toUnixTimestamp64Nano", "chr": "char",
}
_CAST_TYPES = {"BIGINT": "Int64", "INTEGER": "Int32", "INT": "Int32", "DOUBLE": "Float64", "FLOAT": "Float64",
               "VARCHAR": "String", "TEXT": "String", "BOOLEAN": "Bool", "UBIGINT": "UInt64"}
# DuckDB f(x, q) → ClickHouse g(q)(x). Quantiles are exact and interpolate alike on both engines
# (DuckDB's quantile_cont and ClickHouse's quantileExactInclusive: linear between the order statistics
# around (n - 1) q), so answers agree; approximate ones (DuckDB's approx_quantile varies run to run,
# ClickHouse's quantile samples) are not translated.
_PARAMETRIC = {"quantile_cont": "quantileExactInclusive"}

_UPDATE = re.compile(r"^\s*UPDATE\s+(\w+)\s+SET\s+", re.I)
_CREATE = re.compile(r"^\s*CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?(\w+)\s*\((.*)\)\s*$", re.I | re.S)
_TEMP_TABLE = re.compile(r"^\s*CREATE\s+TEMP(?:ORARY)?\s+TABLE\s+(\w+)\s+AS\b", re.I)


def translate(sql: str, params: list[Any] | None = None) -> tuple[str, dict[str, Any]]:
    """(ClickHouse SQL, named parameters) for DuckDB SQL with positional `?` parameters."""
    sql, named = bind(sql, params or [])
    sql = _UPDATE.sub(r"ALTER TABLE \1 UPDATE ", sql, count=1)
    sql = _simple_create(sql)
    sql = _TEMP_TABLE.sub(r"CREATE TEMPORARY TABLE \1 ENGINE = Memory AS", sql, count=1)
    return rewrite_functions(sql), named


def bind(sql: str, params: list[Any]) -> tuple[str, dict[str, Any]]:
    """Replace each `?` outside literals, identifiers and comments by `{pN:Type}`."""
    out, named, i = [], {}, 0
    for kind, text in _tokens(sql):
        if kind == "?":
            if i >= len(params):
                raise ValueError(f"SQL has more ? placeholders than the {len(params)} parameters given")
            name = f"p{i}"
            out.append(f"{{{name}:{ch_type(params[i])}}}")
            named[name] = params[i]
            i += 1
        else:
            out.append(text)
    if i != len(params):
        raise ValueError(f"SQL has {i} ? placeholders but {len(params)} parameters were given")
    return "".join(out), named


def ch_type(value: Any) -> str:
    """The ClickHouse type a Python parameter value binds as."""
    if value is None:
        return "Nullable(String)"
    if isinstance(value, bool):
        return "Bool"
    if isinstance(value, int):
        return "Int64" if -(2**63) <= value < 2**63 else "UInt64"
    if isinstance(value, float):
        return "Float64"
    if isinstance(value, (list, tuple)):
        inner = {ch_type(v) for v in value if v is not None}
        return f"Array({inner.pop() if len(inner) == 1 else 'String'})"
    return "String"


def _simple_create(sql: str) -> str:
    """`CREATE TABLE t (c TYPE [PRIMARY KEY], …)` without an engine → nullable columns, a
    ReplacingMergeTree ordered by the primary key (or by nothing)."""
    m = _CREATE.match(sql)
    if not m or "engine" in sql.lower():
        return sql
    cols, key = [], None
    for part in _split_args(list(_tokens(m.group(3)))):
        words = part.split()
        if len(words) < 2 or words[1].upper() not in _CAST_TYPES:
            return sql
        ch = _CAST_TYPES[words[1].upper()]
        if " ".join(words[2:]).upper() == "PRIMARY KEY":
            key = words[0]
            cols.append(f"{words[0]} {ch}")
        else:
            cols.append(f"{words[0]} Nullable({ch})")
    engine = f"ReplacingMergeTree ORDER BY {key}" if key else "MergeTree ORDER BY tuple()"
    return f"CREATE TABLE {m.group(1) or ''}{m.group(2)} ({', '.join(cols)}) ENGINE = {engine}"


def rewrite_functions(sql: str) -> str:
    """Rename DuckDB-only functions; move quantile arguments into ClickHouse's parameter list."""
    out: list[str] = []
    tokens = list(_tokens(sql))
    i = depth = 0
    recursive: dict[int, bool] = {}  # parenthesis depth → is the WITH opened there recursive
    while i < len(tokens):
        kind, text = tokens[i]
        j = _next_significant(tokens, i + 1)
        is_call = kind == "ident" and j < len(tokens) and tokens[j][1] == "("
        low = text.lower()
        if is_call and low in _PARAMETRIC:
            end = _matching(tokens, j)
            args = _split_args(tokens[j + 1:end])
            if len(args) == 2:
                value, q = (rewrite_functions(a).strip() for a in args)
                out.append(f"{_PARAMETRIC[low]}({q})({value})")
                i = end + 1
                continue
        if is_call and low in ("json_extract_string", "try_cast", "regexp_replace", "json_transform",
                               "struct_extract"):
            end = _matching(tokens, j)
            replaced = _special_call(low, tokens[j + 1:end])
            if replaced is not None:
                out.append(replaced)
                i = end + 1
                continue
        if is_call and low in ("list", "array_agg", "string_agg") and not _after_dot(tokens, i):
            ordered = _ordered_list(tokens, j, low == "string_agg")
            if ordered is not None:
                out.append(ordered[0])
                i = ordered[1]
                continue
        depth += (kind == "(") - (kind == ")")
        if kind == "ident" and low == "with" and not _after_dot(tokens, i):
            recursive[depth] = tokens[j][1].lower() == "recursive" if j < len(tokens) else False
        if kind == "ident" and low == "materialized" and is_call and _prev_word(tokens, i) == "as" \
                and recursive.get(depth, True):
            i += 1  # `x AS MATERIALIZED (…)`: ClickHouse refuses it in a recursive WITH (and before a WITH)
            continue
        if kind == "ident" and low == "exclude" and _prev_word(tokens, i) == "*":
            out.append("EXCEPT")  # SELECT * EXCLUDE (…): ClickHouse spells it EXCEPT
        elif kind == "ident" and _array_cast(tokens, i):
            out.append(f"Array({_CAST_TYPES[text.upper()]})")  # x::VARCHAR[] → x::Array(String)
            i += 3
            continue
        elif kind == "//":
            out.append(" DIV ")  # DuckDB's integer division; ClickHouse reads // as a comment
        elif kind == "str" and "\\" in text:
            out.append(text.replace("\\", "\\\\"))  # DuckDB literals have no escapes; ClickHouse's do
        elif is_call and low in _RENAMES and not _after_dot(tokens, i):
            out.append(_RENAMES[low])
        else:
            out.append(text)
        i += 1
    return "".join(out)


def _special_call(name: str, arg_tokens: list[tuple[str, str]]) -> str | None:
    """json_extract_string(j, '$."k"') → nullIf(JSON_VALUE(…), '') (NULL when missing, as in DuckDB);
    TRY_CAST(x AS BIGINT) → accurateCastOrNull(x, 'Int64'). None: leave the call as written."""
    args = [rewrite_functions(a).strip() for a in _split_args(arg_tokens)]
    if name == "json_extract_string" and len(args) == 2:
        list_path = re.fullmatch(r"'\$\[\*\]\.(\w+)'", args[1])
        if list_path:  # '$[*].key': the key of every element of a JSON list
            return f"arrayMap(e -> JSONExtractString(e, '{list_path.group(1)}'), JSONExtractArrayRaw({args[0]}))"
        if "[*]" not in args[1]:
            return f"nullIf(JSON_VALUE({args[0]}, {args[1]}), '')"
    if name == "regexp_replace" and len(args) in (3, 4):
        if len(args) == 3:
            return f"replaceRegexpOne({', '.join(args)})"
        if args[3].strip() == "'g'":
            return f"replaceRegexpAll({', '.join(args[:3])})"
    if name == "json_transform" and len(args) == 2:
        return _json_transform(args)
    if name == "struct_extract" and len(args) == 2 and re.fullmatch(r"'[^'\\]*'", args[1]):
        return f"tupleElement({args[0]}, {args[1]})"
    if name == "try_cast" and len(args) == 1:
        m = re.fullmatch(r"(?is)(.*)\s+AS\s+([A-Za-z]+)", args[0])
        if m and m.group(2).upper() in _CAST_TYPES:
            return f"accurateCastOrNull({m.group(1).strip()}, '{_CAST_TYPES[m.group(2).upper()]}')"
    return None


def _json_transform(args: list[str]) -> str | None:
    """json_transform(j, '{"k": "VARCHAR", …}') → JSONExtract(j, 'Tuple(`k` Nullable(String), …)'): a
    struct of text fields, NULL where the key is missing (non-string values as their JSON text)."""
    m = re.fullmatch(r"'([^']*)'", args[1])
    try:
        shape = json.loads(m.group(1)) if m else None
    except ValueError:
        return None
    if not isinstance(shape, dict) or not shape or any(
            str(v).upper() != "VARCHAR" or not re.fullmatch(r"[\w.\-]+", k) for k, v in shape.items()):
        return None
    fields = ", ".join(f"`{k}` Nullable(String)" for k in shape)
    return f"JSONExtract({args[0]}, 'Tuple({fields})')"


def _array_cast(tokens: list[tuple[str, str]], i: int) -> bool:
    """Is tokens[i] the type of a `::TYPE[]` cast (a type _CAST_TYPES knows)?"""
    return (i >= 2 and tokens[i - 1][1] == ":" and tokens[i - 2][1] == ":" and i + 2 < len(tokens)
            and tokens[i + 1][1] == "[" and tokens[i + 2][1] == "]" and tokens[i][1].upper() in _CAST_TYPES)


def _ordered_list(tokens: list[tuple[str, str]], open_at: int, joined: bool = False) -> tuple[str, int] | None:
    """`list(v ORDER BY k1, k2) [FILTER (WHERE c)]` → the values of groupArray[If](((k1, k2), v), c) sorted
    by the keys; `string_agg(v, sep ORDER BY …)` (joined) → those values joined by sep.
    (replacement, index of the token after it). None: not of that shape (DESC, NULLS FIRST/LAST,
    DISTINCT), leave it."""
    end = _matching(tokens, open_at)
    inner = tokens[open_at + 1:end]
    words = [(n, t[1].lower()) for n, t in enumerate(inner) if t[0] not in ("ws", "comment")]
    depth, split = 0, None
    for k, (n, w) in enumerate(words):
        depth += w == "("
        depth -= w == ")"
        if depth == 0 and w == "order" and k + 1 < len(words) and words[k + 1][1] == "by":
            split = (n, words[k + 1][0])
            break
    if split is None or (words and words[0][1] == "distinct"):
        return None
    values = [rewrite_functions(v).strip() for v in _split_args(inner[:split[0]])]
    if len(values) != (2 if joined else 1):
        return None
    keys = []
    for key in _split_args(inner[split[1] + 1:]):
        m = re.fullmatch(r"(?is)(.*?)(?:\s+asc)?", key.strip())
        if m is None or re.search(r"(?i)\b(desc|nulls)\b", key) or not m.group(1):
            return None
        keys.append(rewrite_functions(m.group(1)).strip())
    key = keys[0] if len(keys) == 1 else f"({', '.join(keys)})"
    cond, after = None, end + 1
    f = _next_significant(tokens, end + 1)
    if f < len(tokens) and tokens[f][1].lower() == "filter":
        p = _next_significant(tokens, f + 1)
        if p < len(tokens) and tokens[p][0] == "(":
            close = _matching(tokens, p)
            body = "".join(t for _, t in tokens[p + 1:close]).strip()
            if body[:5].lower() == "where":
                cond, after = rewrite_functions(body[5:]).strip(), close + 1
    pairs = f"groupArrayIf(({key}, {values[0]}), {cond})" if cond else f"groupArray(({key}, {values[0]}))"
    ordered = f"arrayMap(x -> x.2, arraySort(x -> x.1, {pairs}))"
    return (f"arrayStringConcat({ordered}, {values[1]})" if joined else ordered), after


# -- a small SQL scanner ----------------------------------------------------------------------------
_SCAN = re.compile(r"""
    (?P<str>'(?:[^']|'')*')
  | (?P<qid>"(?:[^"]|"")*"|`[^`]*`)
  | (?P<comment>--[^\n]*|/\*.*?\*/)
  | (?P<idiv>//)
  | (?P<brace>\{[A-Za-z_][A-Za-z0-9_]*:[^{}]*\})
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<ws>\s+)
  | (?P<other>.)
""", re.S | re.X)


def _tokens(sql: str):
    for m in _SCAN.finditer(sql):
        kind = m.lastgroup
        text = m.group()
        if kind == "other" and text in "?(),.":
            kind = text
        elif kind == "idiv":
            kind = "//"
        yield kind, text


def _next_significant(tokens: list[tuple[str, str]], i: int) -> int:
    while i < len(tokens) and tokens[i][0] in ("ws", "comment"):
        i += 1
    return i


def _prev_word(tokens: list[tuple[str, str]], i: int) -> str:
    k = i - 1
    while k >= 0 and tokens[k][0] in ("ws", "comment"):
        k -= 1
    return tokens[k][1].lower() if k >= 0 else ""


def _after_dot(tokens: list[tuple[str, str]], i: int) -> bool:
    return i > 0 and tokens[i - 1][1] == "."


def _matching(tokens: list[tuple[str, str]], open_at: int) -> int:
    depth = 0
    for k in range(open_at, len(tokens)):
        if tokens[k][0] == "(":
            depth += 1
        elif tokens[k][0] == ")":
            depth -= 1
            if depth == 0:
                return k
    raise ValueError("unbalanced parentheses in SQL")


def _split_args(tokens: list[tuple[str, str]]) -> list[str]:
    args: list[str] = []
    cur: list[str] = []
    depth = 0
    for kind, text in tokens:
        if kind == "(":
            depth += 1
        elif kind == ")":
            depth -= 1
        if kind == "," and depth == 0:
            args.append("".join(cur))
            cur = []
        else:
            cur.append(text)
    args.append("".join(cur))
    return args
