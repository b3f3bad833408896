"""NanoTrack V2 against V3 as the lite model's starting point: both networks from their published ONNX files (run by
OpenCV dnn) inside our tracker, box only, with each version's published tracking values, on a tuning split.

    python tools/compare_nanotrack_versions.py --data data/sequences --split validation \\
        --v2 ../shared/data/peers/nanotrackv2 --v3 <dir with nanotrack_backbone.onnx, nanotrack_head.onnx>

V3's files: HonglinChu/SiamTrackers, NanoTrack/models/nanotrackv3/ (Apache-2.0). Prints OPE AUC, precision and
VOT-protocol failures per version (the measurement behind the lite model card's choice of V2).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import torch

from attsiammask_core.config import TrackerConfig, preset
from attsiammask_core.eval import metrics
from attsiammask_core.eval.runner import run_ope, run_vot
from attsiammask_core.eval.sequences import discover, load_split
from attsiammask_core.eval.trackers import OursTracker
from attsiammask_core.models.siammask import SearchFeatures, SearchOutput
from attsiammask_core.tracker import Tracker


class OnnxPointModel:
    """A box-only model for `Tracker(masks=False)`: NanoTrack's backbone and head ONNX files run by OpenCV dnn."""

    box_head = "point"

    def __init__(self, backbone: Path, head: Path) -> None:
        self.backbone = cv2.dnn.readNet(str(backbone))
        self.head = cv2.dnn.readNet(str(head))

    def to(self, device: object) -> OnnxPointModel:
        return self

    def eval(self) -> OnnxPointModel:
        return self

    def _features(self, crop: torch.Tensor) -> np.ndarray:
        self.backbone.setInput(np.ascontiguousarray(crop.numpy(), dtype=np.float32))
        return self.backbone.forward().copy()

    def template_features(self, z: torch.Tensor) -> np.ndarray:
        return self._features(z)

    def template_kernels(self, zf: np.ndarray) -> np.ndarray:
        return zf

    def search_features(self, x: torch.Tensor) -> SearchFeatures:
        return SearchFeatures(xf=self._features(x), f0=None, f1=None, f2=None)  # type: ignore[arg-type]

    def search_heads(self, feats: SearchFeatures, kernels: np.ndarray) -> SearchOutput:
        self.head.setInput(kernels, "input1")
        self.head.setInput(feats.xf, "input2")
        cls, loc = self.head.forward(["output1", "output2"])
        return SearchOutput(cls=torch.from_numpy(cls.copy()), loc=torch.from_numpy(loc.copy()), mask_corr=None,
                            f0=None, f1=None, f2=None)  # type: ignore[arg-type]


VERSIONS = {
    # (backbone file, head file, published tracking values: configv2.yaml / configv3.yaml)
    "v2": ("nanotrack_backbone_sim.onnx", "nanotrack_head_sim.onnx",
           dict(penalty_k=0.15, window_influence=0.49, lr=0.385, score_size=16, base_size=7)),
    "v3": ("nanotrack_backbone.onnx", "nanotrack_head.onnx",
           dict(penalty_k=0.138, window_influence=0.455, lr=0.348, score_size=15, base_size=6)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--split", default="validation")
    parser.add_argument("--v2", type=Path, required=True, help="folder of NanoTrack V2's ONNX files")
    parser.add_argument("--v3", type=Path, required=True, help="folder of NanoTrack V3's ONNX files")
    args = parser.parse_args()
    if args.split == "test":
        parser.error("the test split is reported, never used to choose a model")
    cv2.setNumThreads(1)
    sequences = discover(args.data, load_split(args.split))
    base = preset("nanotrack")
    print(f"{'version':<8}{'OPE AUC':>9}{'Prec@20':>9}{'VOT failures':>14}   "
          f"({len(sequences)} sequences, {args.split})")
    for name, folder in (("v2", args.v2), ("v3", args.v3)):
        backbone, head, values = VERSIONS[name]
        model = OnnxPointModel(folder / backbone, folder / head)
        config = TrackerConfig(**{**base.__dict__, **values})

        def factory(model: OnnxPointModel = model, config: TrackerConfig = config, name: str = name) -> OursTracker:
            return OursTracker(name, Tracker(model, config=config, attention=False, masks=False))

        ope = [run_ope(factory, seq).result() for seq in sequences]
        overall = metrics.ope_overall([r for r in ope if r is not None])
        failures = sum(metrics.vot_failures(run_vot(factory, seq).run) for seq in sequences)
        print(f"{name:<8}{overall.auc:>9.3f}{overall.precision20:>9.3f}{failures:>14}", flush=True)


if __name__ == "__main__":
    main()
