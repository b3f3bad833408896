"""The targets of a tracking session: each a tracker of its own (sharing the model) with its id."""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from attsiammask_core.track_state import TrackState

__all__ = ["MAX_ID_LENGTH", "SessionTarget", "check_target_id", "new_track_id"]

MAX_ID_LENGTH = 64
_ID = re.compile(r"[A-Za-z0-9_.\-]+")


@dataclass
class SessionTarget:
    """One target: its id, its tracker, the image it was set on, its last box (for image size changes), its state."""

    track_id: str
    tracker: Any
    stamp_ns: int
    image_hw: tuple[int, int]
    box: tuple[float, float, float, float]
    state: TrackState = TrackState.TRACKING


def check_target_id(text: str) -> str:
    """A requested target id, stripped; ValueError saying what is allowed. Empty means "the single target"."""
    value = str(text).strip()
    if value and (len(value) > MAX_ID_LENGTH or not _ID.fullmatch(value)):
        shown = value[:MAX_ID_LENGTH] + ("..." if len(value) > MAX_ID_LENGTH else "")
        raise ValueError(f"target_id {shown!r} is not an id: use at most {MAX_ID_LENGTH} characters from A-Z a-z "
                         "0-9 _ . - (or leave it empty for a single target)")
    return value


def new_track_id() -> str:
    """A fresh id for a target set without one (8 hex digits)."""
    return uuid.uuid4().hex[:8]
