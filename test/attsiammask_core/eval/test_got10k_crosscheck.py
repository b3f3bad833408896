"""Third-party cross-check: our OPE numbers equal the got10k toolkit's for the same predictions.

got10k's ExperimentOTB would download OTB, so its report() is pointed at a got10k VOT-layout folder
(list.txt + <sequence>/*.jpg + groundtruth.txt), which it reads without downloading. got10k scores the
init frame (it overwrites prediction 0 with the ground truth), so the comparison uses skip_first=False;
our reports drop the init frame (skip_first=True, the GOT-10k convention), which is the only difference.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from attsiammask_core.eval import metrics
from attsiammask_core.eval.runner import run_ope
from attsiammask_core.eval.sequences import read_sequence_folder
from attsiammask_core.eval.trackers import make_tracker

got10k_experiments = pytest.importorskip("got10k.experiments", reason="got10k not installed: run `make setup`")
got10k_datasets = pytest.importorskip("got10k.datasets", reason="got10k not installed: run `make setup`")

SEQUENCES = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "sequences"
SEQUENCE = "Crossing"  # 120 frames, target visible in every frame (got10k cannot handle NaN ground truth)


def _got10k_report(root: Path, results: Path, name: str, boxes: np.ndarray, gt: np.ndarray,
                   frames: list[Path]) -> dict:
    """Lay out one sequence in got10k's VOT folder format, write the predictions, run ExperimentOTB.report."""
    seq_dir = root / SEQUENCE
    seq_dir.mkdir(parents=True)
    (root / "list.txt").write_text(SEQUENCE + "\n")
    for i, frame in enumerate(frames):
        (seq_dir / f"{i + 1:08d}.jpg").symlink_to(frame)
    np.savetxt(seq_dir / "groundtruth.txt", gt, fmt="%.4f", delimiter=",")
    record = results / "OTB2015" / name / f"{SEQUENCE}.txt"
    record.parent.mkdir(parents=True)
    np.savetxt(record, boxes, fmt="%.6f", delimiter=",")

    experiment = got10k_experiments.ExperimentOTB.__new__(got10k_experiments.ExperimentOTB)
    experiment.dataset = got10k_datasets.VOT(str(root), version=2018, anno_type="rect", download=False)
    experiment.result_dir = str(results / "OTB2015")
    experiment.report_dir = str(results / "reports")
    experiment.nbins_iou, experiment.nbins_ce = 21, 51
    return experiment.report([name])[name]


@pytest.mark.skipif(not (SEQUENCES / SEQUENCE).is_dir(), reason=f"../shared/data/sequences/{SEQUENCE} not present")
def test_ope_numbers_agree_with_got10k(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    sequence = read_sequence_folder(SEQUENCES / SEQUENCE, manifest=None, index_base=1)
    record = run_ope(make_tracker("csrt"), sequence)
    assert record.init_frame == 0 and np.isfinite(record.gt).all()

    theirs = _got10k_report(tmp_path / "vot", tmp_path / "results", "csrt", record.boxes, record.gt,
                            list(sequence.frame_paths))
    ours = metrics.ope_sequence(record.boxes, record.gt, skip_first=False)

    assert ours.auc == pytest.approx(theirs["overall"]["success_score"], abs=1e-12)
    assert ours.precision20 == pytest.approx(theirs["overall"]["precision_score"], abs=1e-12)
    np.testing.assert_allclose(ours.success, theirs["overall"]["success_curve"], atol=1e-12)
    np.testing.assert_allclose(ours.precision, theirs["overall"]["precision_curve"], atol=1e-12)
    # A tracker that is not trivially perfect, so the agreement means something.
    assert 0.05 < ours.auc < 0.95
