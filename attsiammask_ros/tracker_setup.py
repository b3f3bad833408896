"""The tracker node's start-up pieces: the model factory (the one place Tracker.create is called), the run-time
tracking settings as a TrackerConfig, the inference thread count, and the start-up error."""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

from attsiammask_core import Tracker
from attsiammask_core.config import TrackerConfig
from attsiammask_ros.parameters import TrackerNodeParameters

__all__ = ["StartupError", "TrackerFactory", "inference_threads", "build_tracker", "tracker_config"]

TrackerFactory = Callable[[TrackerNodeParameters], Tracker]


class StartupError(RuntimeError):
    """The node cannot start (bad parameters, no weights): main logs it and exits non-zero."""


def inference_threads() -> int:
    """CPU threads for inference: all cores but one, which stays free for DDS and the executor's callbacks.

    With every core in torch's thread pool, each operator waits for a core that a callback holds, and
    a 30 ms step became seconds on a 2-core machine (measured with make demo).
    """
    return max(1, (os.cpu_count() or 2) - 1)


def build_tracker(settings: TrackerNodeParameters) -> Tracker:
    """The production tracker: ``Tracker.create`` from the model parameters (tests pass their own factory)."""
    backend = settings.model_backend
    if backend == "auto" and (settings.model_providers.replace(" ", "").lower() != "cpu"
                              or settings.model_precision != "fp32"):
        backend = "onnxruntime"  # providers beyond the CPU's, and int8 graphs, are onnxruntime's
    if backend == "onnxruntime":
        if settings.model_device.strip().lower() not in ("auto", "cpu"):
            raise ValueError(f"model.device {settings.model_device!r} applies to the torch backend; with "
                             "model.backend onnxruntime choose the hardware with model.providers (e.g. cuda,cpu)")
        providers = [name.strip() for name in settings.model_providers.split(",")]
        return Tracker.create(variant=settings.model_variant, weights=settings.model_weights or None,
                              attention=settings.attention_enabled, backend="onnxruntime", providers=providers,
                              threads=settings.model_threads or inference_threads(),
                              precision=settings.model_precision)
    return Tracker.create(variant=settings.model_variant, weights=settings.model_weights or None,
                          device=settings.model_device, attention=settings.attention_enabled,
                          threads=settings.model_threads or inference_threads(), backend=backend,
                          precision=settings.model_precision)


def tracker_config(base: TrackerConfig, settings: TrackerNodeParameters) -> TrackerConfig:
    """``base`` with the run-time tracking parameters applied (ValueError when TrackerConfig rejects them).

    ``base`` is the tracker's own configuration from Tracker.create (the weights' tuned values and the variant's
    shipped presence calibration, whose verifier weights it keeps); the node's parameters replace only the fields
    they name, and their defaults are the lite calibration's, so a default node tracks with exactly what
    Tracker.create gives. Only fields that no cached anchor/window depends on change, so it is safe mid-track.
    Recovery needs at least the loss threshold: recover_threshold = max(tracking.recover_threshold,
    tracking.lost_threshold), so either can change alone at run time.
    """
    return dataclasses.replace(base, penalty_k=float(settings.tracking_penalty_k),
                               window_influence=float(settings.tracking_window_influence),
                               lr=float(settings.tracking_lr), context_amount=float(settings.tracking_context_amount),
                               mask_threshold=float(settings.tracking_mask_threshold),
                               lost_threshold=float(settings.tracking_lost_threshold),
                               lost_frames=int(settings.tracking_lost_frames),
                               recover_threshold=max(float(settings.tracking_recover_threshold),
                                                     float(settings.tracking_lost_threshold)),
                               redetect_tiles=int(settings.tracking_redetect_tiles),
                               redetect_reach=float(settings.tracking_redetect_reach),
                               recover_frames=int(settings.tracking_recover_frames))
