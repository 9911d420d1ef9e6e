"""Copy every telemetry table of one store into another (DuckDB → ClickHouse/chDB, or back).

Rows stream in arrow batches, so memory stays bounded by the batch size whatever the store holds.
The copy is one transaction of the destination: on ClickHouse the batches are staged on disk and
moved at the end (see `store.clickhouse`), on DuckDB one database transaction; an error leaves
the destination as it was.

    >>> from interplay.store.open import open_store
    >>> migrate(open_store(":memory:"), open_store(":memory:"))
    {'spans': 0, 'logs': 0, 'metrics': 0, 'changes': 0}
"""
from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from .batch import SCHEMAS, TelemetryBatch
from .model import InvalidInput
from .store.base import Store

BATCH_ROWS = 50_000


def migrate(source: Store, dest: Store, *, batch_rows: int = BATCH_ROWS, append: bool = False,
            on_progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Rows copied per table; on_progress(table, rows so far) after each batch.

    A destination that already holds telemetry is refused (copying twice would double every row)
    unless `append`."""
    if not append:
        held = {name: n for name, n in dest.counts().items() if n}
        if held:
            raise InvalidInput(f"{getattr(dest, 'path', 'the destination')} already holds telemetry "
                               f"({', '.join(f'{n} {name}' for name, n in held.items())}): copy into an empty "
                               "store, or append to it on purpose (--append)")
    copied = {name: 0 for name in SCHEMAS}
    with dest.transaction() as tx:
        for name, schema in SCHEMAS.items():
            for batch in source.stream_arrow(name, batch_rows):
                table = _conform(pa.Table.from_batches([batch]), schema)
                if not table.num_rows:
                    continue
                tx.append(TelemetryBatch(**{name: table}))
                copied[name] += table.num_rows
                if on_progress:
                    on_progress(name, copied[name])
    return copied


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """The batch.py schema's column order and types (ClickHouse returns e.g. UInt64 counts)."""
    return pa.table([table.column(f.name).cast(f.type) for f in schema], schema=schema)
