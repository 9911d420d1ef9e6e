"""RCAEval metrics CSV ingest: a `time` column (unix seconds) and `<service>_<metric>` columns.

Service names may contain '-' (`ts-auth-service_cpu`) and metric names '_' or '-'
(`frontend_latency-50`, `cartservice_mem_usage`): the service is everything before the first '_'.
Each non-empty cell becomes one gauge point in the metrics table.

    >>> split_column("frontend_latency-50")
    ('frontend', 'latency-50')
"""
from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .batch import METRICS, TelemetryBatch
from .model import IngestResult, InvalidInput


def split_column(name: str) -> tuple[str, str] | None:
    service, sep, metric = name.partition("_")
    if not sep or not service or not metric:
        return None
    return service, metric


def ingest_rcaeval_csv(interplay, path: str | Path) -> IngestResult:
    """Parse the CSV and store its points as gauges (all or nothing)."""
    path = Path(path)
    try:
        table = pacsv.read_csv(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInput(f"{path}: not a readable CSV: {exc}") from None
    time_col = next((c for c in table.column_names if c.lower() in ("time", "timestamp")), None)
    if time_col is None:
        raise InvalidInput(f"{path}: no 'time' column (unix seconds) in {table.column_names[:5]}")
    seconds = pc.cast(table[time_col], pa.float64())
    if seconds.null_count:
        raise InvalidInput(f"{path}: column {time_col!r} has empty or non-numeric values")
    times = pc.cast(pc.multiply(seconds, 1e9), pa.int64())
    tables = []
    for name in table.column_names:
        if name == time_col:
            continue
        parts = split_column(name)
        if parts is None:
            continue
        try:
            values = pc.cast(table[name], pa.float64())
        except pa.ArrowInvalid:
            continue  # a text column (labels): not a metric
        keep = pc.and_(pc.is_valid(values), pc.invert(pc.is_nan(values)))
        v = pc.filter(values, keep)
        t = pc.filter(times, keep)
        n = len(v)
        if not n:
            continue
        tables.append(_points(t, v, parts[0], parts[1], n))
    if not tables:
        raise InvalidInput(f"{path}: no '<service>_<metric>' columns with numbers")
    batch = TelemetryBatch(metrics=pa.concat_tables(tables))
    return interplay.ingest_batch(batch)


def _points(times, values, service: str, metric: str, n: int) -> pa.Table:
    def const(value, type_):
        return pa.array([value] * n, type=type_)
    columns = {
        "time_ns": times, "start_time_ns": const(None, pa.int64()), "service": const(service, pa.string()),
        "name": const(metric, pa.string()), "type": const("gauge", pa.string()), "unit": const("", pa.string()),
        "value": values, "count": const(None, pa.int64()), "sum": const(None, pa.float64()),
        "min": const(None, pa.float64()), "max": const(None, pa.float64()),
        "bucket_counts": const(None, pa.string()), "explicit_bounds": const(None, pa.string()),
        "is_monotonic": const(False, pa.bool_()), "temporality": const("", pa.string()),
        "resource_attributes": const('{"service.name": ' + _json_str(service) + "}", pa.string()),
        "attributes": const("{}", pa.string()),
    }
    columns.update({f.name: const(None, f.type) for f in METRICS if f.name not in columns})
    return pa.table([pa.array(columns[f.name], type=f.type) if not isinstance(columns[f.name], pa.Array)
                     else columns[f.name].cast(f.type) for f in METRICS], schema=METRICS)


def _json_str(s: str) -> str:
    import json
    return json.dumps(s)


__all__ = ["ingest_rcaeval_csv", "split_column", "math"]
