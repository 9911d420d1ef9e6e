"""The small file beside a database that tells other commands a server holds it, and where."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def server_file(db: str | os.PathLike[str]) -> Path:
    """Beside the database file or chDB directory; for a ClickHouse server URL, in the temp folder."""
    from .store.open import parse_store_url
    kind, location = parse_store_url(str(db))
    if kind == "clickhouse":
        import hashlib
        import tempfile
        key = hashlib.sha1(location.encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"interplay-{key}.server.json"
    return Path(location.rstrip("/") + ".server.json")


def write_server_file(db: str, info: dict[str, Any]) -> Path:
    path = server_file(db)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # may hold the token
    with os.fdopen(fd, "w") as f:
        json.dump(info, f)
    os.replace(tmp, path)
    return path


def remove_server_file(db: str) -> None:
    try:
        server_file(db).unlink()
    except FileNotFoundError:
        pass


def running_server(db: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The server holding db, if its file exists and its process is alive; stale files are ignored."""
    path = server_file(db)
    try:
        info = json.loads(path.read_text())
        os.kill(int(info["pid"]), 0)
    except (FileNotFoundError, ValueError, KeyError, TypeError, json.JSONDecodeError):
        return None
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, owned by someone else
    return info
