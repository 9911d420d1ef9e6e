"""Small hand-built incidents for the investigation tests (TraceBuilder traces, written as OTLP JSON)."""
from __future__ import annotations

import json
import random

from interplay.api import Interplay
from interplay.testing import TraceBuilder, kv_list, traces_request

T0 = 1_767_225_600 * 10**9
MIN = 60 * 10**9
ONSET = T0 + 30 * MIN


def load(tmp_path, traces, changes=(), logs=None, name="case"):
    ip = Interplay.open(":memory:")
    path = tmp_path / f"{name}.jsonl"
    with open(path, "w") as f:
        for i in range(0, len(traces), 200):
            f.write(json.dumps(traces_request(traces[i:i + 200])) + "\n")
        if logs:
            f.write(json.dumps(logs) + "\n")
    ip.ingest_file(path)
    if changes:
        ip.add_changes(list(changes))
    return ip


def requests(build, minutes=40, every_s=2.0, seed=7):
    """One trace per `every_s` seconds; build(trace, t_ns, after_onset, rng) adds its spans."""
    rng = random.Random(seed)
    out = []
    t = T0
    while t < T0 + minutes * MIN:
        tb = TraceBuilder(t, seed=rng.getrandbits(32))
        build(tb, t, t >= ONSET, rng)
        out.append(tb)
        t += int(every_s * 1e9)
    return out


def jitter(rng, ms):
    return ms * rng.uniform(0.8, 1.2)


def logs_request(records):
    """records: (service, time_ns, severity_number, body)."""
    by = {}
    for service, t, sev, body in records:
        by.setdefault(service, []).append({"timeUnixNano": str(t), "severityNumber": sev,
                                           "body": {"stringValue": body}})
    return {"resourceLogs": [{"resource": {"attributes": kv_list({"service.name": s})},
                              "scopeLogs": [{"logRecords": recs}]} for s, recs in by.items()]}
