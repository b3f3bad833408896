"""Evaluation: sequence readers (`sequences`), pure tracking metrics (`metrics`), runners and backend parity; no ROS."""
from __future__ import annotations

from attsiammask_core.eval.metrics import (
    PRECISION_THRESHOLDS,
    SUCCESS_THRESHOLDS,
    OPEResult,
    VOTRun,
    center_error_xywh,
    eao,
    expected_overlap_curve,
    failures_per_100,
    iou_xywh,
    latency_stats,
    make_vot_run,
    mean_j,
    ope_overall,
    ope_sequence,
    polygon_iou,
    precision_at,
    precision_curve,
    region_overlap,
    region_similarity,
    success_auc,
    success_curve,
    vot_accuracy,
    vot_failures,
)
from attsiammask_core.eval.sequences import (
    Sequence,
    discover,
    load_split,
    read_any,
    read_davis_folder,
    read_sequence_folder,
    read_vot_folder,
)

__all__ = [
    "PRECISION_THRESHOLDS", "SUCCESS_THRESHOLDS", "OPEResult", "VOTRun", "center_error_xywh", "eao",
    "expected_overlap_curve", "failures_per_100", "iou_xywh", "latency_stats", "make_vot_run", "mean_j",
    "ope_overall", "ope_sequence", "polygon_iou", "precision_at", "precision_curve", "region_overlap",
    "region_similarity", "success_auc", "success_curve", "vot_accuracy", "vot_failures",
    "Sequence", "discover", "load_split", "read_any", "read_davis_folder", "read_sequence_folder",
    "read_vot_folder",
]
