"""Change events (deploys, config, flags, infra, commits): validation of the JSON form."""
from __future__ import annotations

from typing import Any

from .model import CHANGE_KINDS, InvalidInput
from .otlp.columns import MAX_TIME_NS, MIN_TIME_NS, ColumnBuilder, add_change
from .timeutil import parse_time_ns

CHANGE_KEYS = {"time", "service", "kind", "description", "version", "attributes"}


def is_change_event(doc: Any) -> bool:
    return isinstance(doc, dict) and "kind" in doc and "service" in doc and "time" in doc


def add_change_event(doc: Any, builder: ColumnBuilder, where: str) -> None:
    """Validate one change event object and append it; InvalidInput says which field is wrong."""
    if not isinstance(doc, dict):
        raise InvalidInput(f"{where}: a change event must be a JSON object, got {type(doc).__name__}")
    for key in ("time", "service", "kind", "description"):
        if key not in doc:
            raise InvalidInput(f"{where}: change event is missing {key!r}")
    if not isinstance(doc["service"], str) or not doc["service"].strip():
        raise InvalidInput(f"{where}: change event 'service' must be a non-empty string")
    kind = doc["kind"]
    if kind not in CHANGE_KINDS:
        raise InvalidInput(f"{where}: change event 'kind' is {kind!r}; expected one of {', '.join(CHANGE_KINDS)}")
    time_ns = parse_time_ns(doc["time"], where=f"{where} field 'time'")
    if not MIN_TIME_NS <= time_ns < MAX_TIME_NS:
        raise InvalidInput(f"{where}: change event time {doc['time']!r} is outside 2000..2100")
    attributes = doc.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise InvalidInput(f"{where}: change event 'attributes' must be an object")
    add_change(builder, time_ns=time_ns, service=doc["service"], kind=kind,
               description=str(doc["description"]), version=str(doc.get("version") or ""),
               attributes=attributes)
