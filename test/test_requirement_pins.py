"""Pins that issue 25 relies on: OpenCV at a release that refuses the PNG IDAT bomb at once (5.0.0 spent 3 s and
3.7 GB on it; the container checks refuse it before OpenCV either way), and atheris for the fuzz targets."""
from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def pinned(requirements: str, name: str) -> str:
    match = re.search(rf"^{re.escape(name)}==(\S+)", (REPO / requirements).read_text(), re.MULTILINE)
    assert match, f"{name} is not pinned in {requirements}"
    return match.group(1)


def test_opencv_is_pinned_to_a_release_without_the_png_fault_and_installed():
    version = pinned("requirements.txt", "opencv-contrib-python-headless")
    assert tuple(int(v) for v in version.split(".")[:2]) >= (5, 1), version
    try:
        installed = metadata.version("opencv-contrib-python-headless")
    except metadata.PackageNotFoundError:
        pytest.skip("OpenCV comes from elsewhere here (a distribution package)")
    assert installed == version


def test_atheris_is_a_pinned_test_dependency():
    version = pinned("requirements-build.txt", "atheris")
    try:
        assert metadata.version("atheris") == version
    except metadata.PackageNotFoundError:
        pytest.skip("atheris is not installed (make setup installs requirements-build.txt)")
