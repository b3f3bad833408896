"""tracker_node as its own process with the planted fake model (fast and deterministic), so a transport test
measures delivery and the node's pipeline rather than inference speed:

    python test/transport_node.py --ros-args -r __ns:=/ns -p input.camera_info:=true -p input.depth:=true
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from fake_siammask import PlantedModel  # noqa: E402

from attsiammask_core import Tracker  # noqa: E402
from attsiammask_core.config import TrackerConfig  # noqa: E402
from attsiammask_core.models.siammask import SearchFeatures, SearchOutput  # noqa: E402
from attsiammask_ros.tracker_node import main  # noqa: E402


class CachedPlantedModel(PlantedModel):
    """PlantedModel with its zero feature maps made once (allocating them was half of a step) and no call log."""

    def __init__(self) -> None:
        super().__init__()
        zeros = torch.zeros(1, 1, 1, 1)
        self._features = SearchFeatures(xf=torch.zeros(1, 256, 31, 31), f0=zeros, f1=zeros, f2=zeros)
        self._mask_corr = torch.zeros(1, 256, self.score_size, self.score_size)

    def search_features(self, x: torch.Tensor) -> SearchFeatures:
        return self._features

    def search_heads(self, feats: SearchFeatures, kernels: object) -> SearchOutput:
        s = self.score_size
        cls = torch.cat([torch.zeros_like(self.fg), self.fg]).reshape(1, 2 * self.anchor_num, s, s)
        return SearchOutput(cls=cls, loc=self.deltas.reshape(1, 4 * self.anchor_num, s, s).clone(),
                            mask_corr=self._mask_corr, f0=feats.f0, f1=feats.f1, f2=feats.f2)

    def refine(self, out: SearchOutput, pos: tuple[int, int]) -> torch.Tensor:
        return self.mask[None].clone()


def build(settings: object) -> Tracker:
    """The planted model: best candidate the centre cell (p = 0.9), mask all target."""
    model = CachedPlantedModel()
    model.set_score(2, 12, 12, 0.9)
    model.mask.fill_(10.0)
    return Tracker(model, config=TrackerConfig(), attention=False)


if __name__ == "__main__":
    sys.exit(main(build_tracker=build))
