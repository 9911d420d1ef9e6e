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
from hypothesis import given, strategies as st

from fuzzing import (SIGNALS, fuzz_settings, hostile_json_request, hostile_proto_request, json_body,
                     template, to_proto)
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
    for table in batch.tables().values() if hasattr(batch, "tables") else ():
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
def corpus() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.suffix in (".json", ".pb")) if CORPUS.exists() else []


def corpus_signal(path: Path) -> str:
    """A corpus file is named SIGNAL-what-it-found.json|.pb."""
    return path.name.split("-")[0]


@pytest.mark.parametrize("path", corpus(), ids=lambda p: p.name)
def test_crash_corpus_decodes_or_is_refused(path):
    decode_or_refuse(corpus_signal(path), path.read_bytes(), PROTOBUF if path.suffix == ".pb" else JSON)


def test_crash_corpus_is_not_empty():
    assert corpus(), f"no crash corpus under {CORPUS}"
