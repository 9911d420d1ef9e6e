"""Ingest throughput: file ingest and OTLP/HTTP protobuf, against protobuf parsing as the reference.

    .venv/bin/python bench/ingest.py [--spans 300000] [--large-gb 0]

Prints spans/s for (a) parsing the bytes with protobuf only (the reference), (b) decoding to arrow
batches, (c) `interplay ingest` of an OTLP JSON lines file and of a protobuf file, (d) OTLP/HTTP
protobuf sent by a load generator in a second process to a real `interplay serve`. With
--large-gb N it also ingests an N GB JSON lines file and reports the peak memory (streaming).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
T0 = 1_767_225_600 * 10**9
SERVICES = ["frontend", "cart", "catalog", "checkout", "payment", "shipping", "currency", "email"]


def make_request(n_spans: int, rng: random.Random, t0: int) -> ExportTraceServiceRequest:
    """One export request of realistic spans: 8 services, attributes, some errors."""
    req = ExportTraceServiceRequest()
    per_service: dict[str, list] = {}
    for service in SERVICES:
        rs = req.resource_spans.add()
        for k, v in (("service.name", service), ("service.version", "1.4.2"), ("host.name", f"{service}-0")):
            kv = rs.resource.attributes.add()
            kv.key, kv.value.string_value = k, v
        per_service[service] = rs.scope_spans.add().spans
    for i in range(n_spans):
        s = per_service[SERVICES[i % len(SERVICES)]].add()
        s.trace_id = rng.getrandbits(128).to_bytes(16, "big")
        s.span_id = rng.getrandbits(64).to_bytes(8, "big")
        s.parent_span_id = rng.getrandbits(64).to_bytes(8, "big") if i % 5 else b""
        s.name = f"GET /api/v1/items/{{id}} #{i % 40}"
        s.kind = 2 if i % 2 else 3
        s.start_time_unix_nano = t0 + i * 1000
        s.end_time_unix_nano = s.start_time_unix_nano + rng.randint(10**5, 10**8)
        for k, v in (("http.request.method", "GET"), ("http.route", "/api/v1/items/{id}"),
                     ("server.address", "catalog"), ("http.response.status_code", 200)):
            kv = s.attributes.add()
            kv.key = k
            if isinstance(v, int):
                kv.value.int_value = v
            else:
                kv.value.string_value = v
        if i % 100 == 0:
            s.status.code, s.status.message = 2, "upstream timeout"
    return req


def to_otlp_json(req: ExportTraceServiceRequest) -> str:
    doc = json_format.MessageToDict(req)
    for rs in doc.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for s in ss.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in s:
                        import base64
                        s[key] = base64.b64decode(s[key]).hex()
    return json.dumps(doc, separators=(",", ":"))


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>12,.0f} spans/s  ({n:,} spans in {seconds:.2f} s)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spans", type=int, default=300_000)
    ap.add_argument("--batch", type=int, default=2000, help="spans per export request")
    ap.add_argument("--large-gb", type=float, default=0.0)
    args = ap.parse_args()
    from interplay.api import Interplay
    from interplay.otlp import proto

    rng = random.Random(7)
    requests = [make_request(args.batch, rng, T0 + i * 10**9) for i in range(args.spans // args.batch)]
    n = len(requests) * args.batch
    blobs = [r.SerializeToString() for r in requests]
    work = Path(tempfile.mkdtemp(prefix="interplay-bench-"))
    print(f"Interplay ingest benchmark: {n:,} spans in {len(blobs)} requests of {args.batch}; {os.cpu_count()} cores; "
          f"load average {os.getloadavg()[0]:.1f} at start (other work on the machine slows every row alike)")

    t = time.perf_counter()
    for b in blobs:
        ExportTraceServiceRequest.FromString(b)
    parse_s = time.perf_counter() - t
    print(f"reference: protobuf parse only       {rate(n, parse_s)}")

    t = time.perf_counter()
    for b in blobs:
        proto.decode_request("traces", proto.parse_request("traces", b)[0])
    decode_s = time.perf_counter() - t
    print(f"decode to arrow batches              {rate(n, decode_s)}   "
          f"ratio to parse: {decode_s / parse_s:.1f}x the time")

    jsonl = work / "spans.jsonl"
    with open(jsonl, "w") as f:
        for r in requests:
            f.write(to_otlp_json(r) + "\n")
    workers = os.cpu_count() or 1
    for label, path, w in (("file ingest, JSON lines, 1 process", jsonl, 1),
                           (f"file ingest, JSON lines, {workers} decoders", jsonl, workers)):
        db = work / f"file{w}.duckdb"
        ip = Interplay.open(db)
        t = time.perf_counter()
        result = ip.ingest_file(path, workers=w)  # `interplay ingest` uses one decoder per core
        s = time.perf_counter() - t
        ip.close()
        assert result.spans == n, result
        print(f"{label:<37}{rate(n, s)}   ratio to parse: {s / parse_s:.1f}x")

    http_s = bench_http(blobs, n, work)
    print(f"OTLP/HTTP protobuf, 2nd process      {rate(n, http_s)}   ratio to parse: {http_s / parse_s:.1f}x")

    if args.large_gb > 0:
        bench_large(work, requests, args.large_gb)


def bench_http(blobs: list[bytes], n: int, work: Path) -> float:
    from conftest import start_server
    server = start_server(work / "http.duckdb", grpc=False)
    blob_file = work / "blobs.bin"
    with open(blob_file, "wb") as f:
        for b in blobs:
            f.write(len(b).to_bytes(4, "big") + b)
    try:
        out = subprocess.run([sys.executable, "-c", _LOADGEN, server.url, str(blob_file)],
                             capture_output=True, text=True, check=True)
        seconds = float(out.stdout.strip())
        counts = server.get("/api/services").json()
        stored = sum(s["spans"] for s in counts)
        assert stored == n, f"stored {stored} of {n}"
        return seconds
    finally:
        server.stop()


_LOADGEN = r"""
import sys, time, threading, httpx
url, path = sys.argv[1], sys.argv[2]
blobs = []
with open(path, "rb") as f:
    while head := f.read(4):
        blobs.append(f.read(int.from_bytes(head, "big")))
todo = list(range(len(blobs)))
lock = threading.Lock()
def worker():
    with httpx.Client(timeout=60) as c:
        while True:
            with lock:
                if not todo:
                    return
                i = todo.pop()
            while True:
                r = c.post(url + "/v1/traces", content=blobs[i], headers={"Content-Type": "application/x-protobuf"})
                if r.status_code == 200:
                    break
                time.sleep(float(r.headers.get("Retry-After", "0.2")))
t = time.perf_counter()
threads = [threading.Thread(target=worker) for _ in range(4)]
[th.start() for th in threads]
[th.join() for th in threads]
print(time.perf_counter() - t)
"""


def bench_large(work: Path, requests: list, gb: float) -> None:
    """Stream an N GB JSON lines file; peak RSS of the ingesting process shows memory stays bounded."""
    big = work / "big.jsonl"
    lines = [to_otlp_json(r) + "\n" for r in requests[:20]]
    target = int(gb * 1024**3)
    written = 0
    with open(big, "w") as f:
        while written < target:
            for line in lines:
                f.write(line)
                written += len(line)
    # Distinct ids are not needed to measure streaming; the store accepts duplicates as data.
    code = ("import os,resource,sys,time;from interplay.api import Interplay;ip=Interplay.open(sys.argv[2]);"
            "t=time.perf_counter();r=ip.ingest_file(sys.argv[1],workers=os.cpu_count());s=time.perf_counter()-t;"
            "print(r.spans, s, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, str(big), str(work / "big.duckdb")],
                         capture_output=True, text=True, check=True).stdout.split()
    spans, seconds, rss_kb = int(out[0]), float(out[1]), int(out[2])
    print(f"large file {written / 1024**3:.2f} GB          {rate(spans, seconds)}   peak RSS {rss_kb / 1024:,.0f} MiB")
    big.unlink()


if __name__ == "__main__":
    main()
