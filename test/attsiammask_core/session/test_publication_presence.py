"""The published confidence and each Detection2D's score are the presence confidence, not the box head's score."""
from __future__ import annotations

import numpy as np
import pytest

from attsiammask_core.session import FrameResult, TargetResult, frame_publication
from attsiammask_core.track_state import TrackState
from attsiammask_core.tracker import TrackResult


def _target(track_id: str, state: TrackState, score: float, confidence: float | None) -> TargetResult:
    mask = np.zeros((60, 80), bool)
    return TargetResult(track_id, TrackResult((10.0, 10.0, 20.0, 20.0), np.zeros((4, 2)), mask, score, state,
                                              confidence))


def test_confidence_and_detection_score_are_the_presence():
    # a confident box head on a box the verifier rejects: the presence (0.05) is what users see
    out = frame_publication(FrameResult(1, (60, 80), [_target("a", TrackState.TRACKING, 0.97, 0.05)]), "t")
    assert out.confidence == pytest.approx(0.05) and out.detection.score == pytest.approx(0.05)
    lost = frame_publication(FrameResult(1, (60, 80), [_target("a", TrackState.LOST, 0.99, 0.01)]), "t")
    assert lost.confidence == pytest.approx(0.01) and lost.detection is None and lost.detections == []


def test_without_a_verifier_the_score_is_the_confidence():
    out = frame_publication(FrameResult(1, (60, 80), [_target("a", TrackState.TRACKING, 0.8, None)]), "t")
    assert out.confidence == pytest.approx(0.8) and out.detection.score == pytest.approx(0.8)
    nan = frame_publication(FrameResult(1, (60, 80), [_target("a", TrackState.TRACKING, 0.8, float("nan"))]), "t")
    assert nan.confidence == 0.0
