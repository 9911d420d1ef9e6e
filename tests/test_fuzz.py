"""Bounded, deterministic fuzzing of the OTLP decoders (protobuf and JSON; traces, logs, metrics) and
of the HTTP routes of a real `interplay serve`.

What must hold: no exception leaves a decoder except InvalidInput (a clear 400); the server never
answers 500; its memory stays bounded; the good records of a mixed request are stored. Inputs that
once broke one of these are kept under tests/fixtures/fuzz/ and replayed by `test_crash_corpus_*`.
About 60 s in all on CI; INTERPLAY_FUZZ_SCALE and INTERPLAY_FUZZ_RANDOM (tests/fuzzing.py) run more.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzzing import SIGNALS, fuzz_settings, hostile_json_request, hostile_proto_request, json_body, template, to_proto
from interplay.batch import TelemetryBatch
from interplay.model import InvalidInput
from interplay.server.otlp_http import JSON, PROTOBUF, decode

CORPUS = Path(__file__).parent / "fixtures" / "fuzz"


def decode_or_refuse(signal: str, body: bytes, media: str) -> TelemetryBatch | None:
    """The decoder's answer: a batch, or None for a clear InvalidInput; anything else fails the test."""
    try:
        batch = decode(signal, body, media)
    except InvalidInput:
        return None
    assert isinstance(batch, TelemetryBatch)
    for table in batch.tables().values():
        table.validate(full=True)
    return batch


# -- the decoders, in process --------------------------------------------------------------------
@fuzz_settings(400)
@given(hostile_json_request())
def test_json_decoders_only_refuse_with_invalid_input(case):
    signal, doc = case
    decode_or_refuse(signal, json_body(doc), JSON)


@fuzz_settings(400)
@given(hostile_proto_request())
def test_protobuf_decoders_only_refuse_with_invalid_input(case):
    signal, data = case
    decode_or_refuse(signal, data, PROTOBUF)


@fuzz_settings(150)
@given(st.sampled_from(SIGNALS), st.sampled_from([JSON, PROTOBUF]), st.binary(max_size=200))
def test_arbitrary_bytes_only_refuse_with_invalid_input(signal, media, data):
    decode_or_refuse(signal, data, media)


@pytest.mark.parametrize("signal", SIGNALS)
def test_templates_are_valid_and_stored_whole(signal):
    """The fuzzers start from these: each must decode with nothing rejected, in both encodings."""
    for body, media in ((json_body(template(signal)), JSON),
                        (to_proto(template(signal), signal).SerializeToString(), PROTOBUF)):
        batch = decode(signal, body, media)
        assert not batch.rejected and not batch.warnings, (media, batch.rejected, batch.warnings)


# -- crash corpus: inputs that once broke a decoder or the server -----------------------------------
# SIGNAL-what.json|.pb → (records stored, records rejected, warnings), or None: refused (a 400).
# The first ones were 500s (gRPC UNKNOWN) losing the whole batch (issue 12); invalid UTF-8 in
# protobuf was a 400 for the whole request; the event dated 2^64-1 ns was stored (the mixed fuzz).
EXPECTED = {
    "logs-observed-time-u64-max.json": (1, 1, 0),
    "logs-observed-time-u64-max.pb": (1, 1, 0),
    "logs-severity-2-to-the-70.json": (1, 1, 0),
    "metrics-histogram-count-over-int64.json": (5, 1, 0),
    "metrics-histogram-count-over-int64.pb": (5, 1, 0),
    "metrics-start-time-u64-max.pb": (5, 1, 0),
    "traces-anyvalue-nested-40-deep.json": (2, 1, 0),
    "traces-event-time-u64-max.json": (2, 1, 0),
    "traces-event-time-u64-max.pb": (2, 1, 0),
    "traces-garbage-varint.pb": None,
    "traces-invalid-utf8-strings.pb": (3, 0, 1),
    "traces-json-nested-5000-deep.json": None,
    "traces-lone-surrogates.json": (3, 0, 1),
    "traces-scope-name-not-a-string.json": (2, 2, 0),
}


def corpus() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.suffix in (".json", ".pb"))


def replay(path: Path) -> TelemetryBatch | None:
    """Decode a corpus file as its name says (SIGNAL-what.json|.pb)."""
    return decode_or_refuse(path.name.split("-")[0], path.read_bytes(), PROTOBUF if path.suffix == ".pb" else JSON)


@pytest.mark.parametrize("path", corpus(), ids=lambda p: p.name)
def test_crash_corpus_decodes_as_expected(path):
    batch = replay(path)
    got = None if batch is None else (
        sum(t.num_rows for t in (batch.spans, batch.logs, batch.metrics) if t is not None),
        sum(r.count for r in batch.rejected), len(batch.warnings))
    assert got == EXPECTED[path.name]


def test_crash_corpus_has_an_expectation_for_each_file():
    assert sorted(p.name for p in corpus()) == sorted(EXPECTED)
