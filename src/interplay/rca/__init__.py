"""Root-cause investigation: from a symptom (or none) and a time (or none) to ranked causes.

    >>> from interplay.api import Interplay
    >>> from interplay.model import NotFound
    >>> try:
    ...     investigate(Interplay.open(":memory:").store)
    ... except NotFound as exc:
    ...     print(exc)
    no spans or metrics in that time range: nothing to investigate
"""
from __future__ import annotations

from ._investigate import data_completeness, investigate

__all__ = ["data_completeness", "investigate"]
