"""Untrusted JSON → Python values that every later layer can store: valid UTF-8, bounded depth.

`load_json` decodes a request body: invalid UTF-8 bytes and lone surrogates (`"\\ud800"`) are
replaced with U+FFFD and reported as warnings naming where; nesting too deep for the decoder is a
clear InvalidInput, not a RecursionError.
"""
from __future__ import annotations

import json
import re
from typing import Any

from ..model import InvalidInput

_SURROGATE = re.compile("[\ud800-\udfff]")
_MAX_WARNINGS = 5


def load_json(body: bytes, where: str = "body") -> tuple[Any, list[str]]:
    """Parse JSON, repairing text; returns the document and what was repaired (empty if nothing)."""
    warnings: list[str] = []
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = body.decode("utf-8", "replace")
        warnings.append(f"{where}: invalid UTF-8 at byte {exc.start} (and maybe after) replaced with U+FFFD")
    try:
        doc = json.loads(text)
    except RecursionError:
        raise InvalidInput(f"{where}: JSON nested too deeply") from None
    except ValueError as exc:
        raise InvalidInput(f"{where} is not valid JSON: {exc}") from None
    if "\\ud" in text or "\\uD" in text:  # only a \u escape can make a lone surrogate
        repaired: list[str] = []
        try:
            doc = repair(doc, where, repaired)
        except RecursionError:
            raise InvalidInput(f"{where}: JSON nested too deeply") from None
        if repaired:
            warnings.append(repaired_warning("a lone surrogate", repaired))
    return doc, warnings


def repaired_warning(what: str, paths: list[str]) -> str:
    """The warning for strings repaired with U+FFFD: how many, and the first few paths."""
    shown = ", ".join(paths[:_MAX_WARNINGS]) + (f" and {len(paths) - _MAX_WARNINGS} more"
                                                if len(paths) > _MAX_WARNINGS else "")
    return f"{len(paths)} string(s) with {what} repaired with U+FFFD: {shown}"


def repair(value: Any, where: str, repaired: list[str]) -> Any:
    """The value with lone surrogates replaced in every string and key; appends where to `repaired`."""
    if isinstance(value, str):
        return _fix(value, where, repaired)
    if isinstance(value, list):
        return [repair(v, f"{where}[{i}]", repaired) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {_fix(k, f"{where} key", repaired) if isinstance(k, str) else k: repair(v, f"{where}.{k}", repaired)
                for k, v in value.items()}
    return value


def clean_text(text: str) -> tuple[str, bool]:
    """(text with lone surrogates replaced, whether any were)."""
    if text.isascii() or not _SURROGATE.search(text):
        return text, False
    return _SURROGATE.sub("\ufffd", text), True


def _fix(text: str, where: str, repaired: list[str]) -> str:
    fixed, changed = clean_text(text)
    if changed:
        repaired.append(where.encode("utf-8", "replace").decode())
    return fixed
