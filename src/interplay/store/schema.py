"""SQL DDL for the embedded store; column names and types match batch.py's arrow schemas."""
from __future__ import annotations

import pyarrow as pa

from ..batch import SCHEMAS

_DUCKDB_TYPES = {
    pa.string(): "VARCHAR",
    pa.int64(): "BIGINT",
    pa.int32(): "INTEGER",
    pa.float64(): "DOUBLE",
    pa.bool_(): "BOOLEAN",
}


def duckdb_ddl() -> list[str]:
    """CREATE TABLE statements for every telemetry table, and the columns later versions added
    (a database file written by an older Interplay gains them, empty)."""
    statements = []
    for name, schema in SCHEMAS.items():
        cols = ", ".join(f"{f.name} {_DUCKDB_TYPES[f.type]}" for f in schema)
        statements.append(f"CREATE TABLE IF NOT EXISTS {name} ({cols})")
        statements += [f"ALTER TABLE {name} ADD COLUMN IF NOT EXISTS {f.name} {_DUCKDB_TYPES[f.type]}"
                       for f in schema]
    statements.append(
        "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    return statements
