"""Cut the rosdistro entries this repository's package.xml files need into a small offline snapshot.

The packaging test (test/workspace/test_rosdep.py) resolves our dependencies with a real rosdep against this
snapshot, without network. Rebuild it from a ros/rosdistro checkout (the `fetch` tool gives a bare git dir):

    python tools/packaging/snapshot_rosdistro.py /work/.mirror/ros+rosdistro/repo --distro kilted \\
        --out test/workspace/rosdistro_snapshot

Keys are copied verbatim; a key the rosdistro lacks is reported and left out, so the test then fails on it.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
DEPENDENCY_TAGS = ("depend", "build_depend", "buildtool_depend", "build_export_depend", "exec_depend",
                   "test_depend", "buildtool_export_depend")
IGNORE_MARKERS = ("COLCON_IGNORE", "AMENT_IGNORE", "CATKIN_IGNORE")


def package_manifests(root: Path = REPO) -> list[Path]:
    """The package.xml files colcon and rosdep can be pointed at: the root's and interfaces/*, minus ignored."""
    found = [root / "package.xml"]
    for path in sorted((root / "interfaces").glob("*/package.xml")):
        if not any((path.parent / marker).exists() for marker in IGNORE_MARKERS):
            found.append(path)
    return found


def manifest_keys(path: Path) -> tuple[str, set[str]]:
    """A package's name and every dependency key it declares."""
    root = ET.parse(path).getroot()
    return root.findtext("name").strip(), {e.text.strip() for tag in DEPENDENCY_TAGS for e in root.iter(tag)}


def _git_show(git_dir: Path, commit: str, path: str) -> str:
    return subprocess.run(["git", "--git-dir", str(git_dir), "show", f"{commit}:{path}"], check=True,
                          capture_output=True, text=True).stdout


def _dump(data: object) -> str:
    return yaml.safe_dump(data, sort_keys=True, default_flow_style=False, width=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("git_dir", type=Path, help="a ros/rosdistro git directory (bare is fine)")
    parser.add_argument("--commit", default="HEAD")
    parser.add_argument("--distro", default="kilted")
    parser.add_argument("--out", type=Path, default=REPO / "test" / "workspace" / "rosdistro_snapshot")
    args = parser.parse_args(argv)

    commit = subprocess.run(["git", "--git-dir", str(args.git_dir), "rev-parse", args.commit], check=True,
                            capture_output=True, text=True).stdout.strip()
    ours, keys = set(), set()
    for manifest in package_manifests():
        name, deps = manifest_keys(manifest)
        ours.add(name)
        keys |= deps
    keys -= ours
    distribution = yaml.safe_load(_git_show(args.git_dir, commit, f"{args.distro}/distribution.yaml"))
    released: dict[str, str] = {}
    for repo_name, repo in distribution["repositories"].items():
        release = repo.get("release") or {}
        for package in release.get("packages") or ([repo_name] if release else []):
            released[package] = repo_name
    repos = sorted({released[k] for k in keys if k in released})
    rules = {}
    for source in ("base.yaml", "python.yaml"):
        table = yaml.safe_load(_git_show(args.git_dir, commit, f"rosdep/{source}"))
        rules[source] = {k: table[k] for k in sorted(keys) if k in table}
    missing = sorted(k for k in keys if k not in released and not any(k in r for r in rules.values()))

    out = args.out
    (out / args.distro).mkdir(parents=True, exist_ok=True)
    trimmed = {key: distribution[key] for key in distribution if key != "repositories"}
    trimmed["repositories"] = {name: {"release": distribution["repositories"][name]["release"]} for name in repos}
    (out / args.distro / "distribution.yaml").write_text("%YAML 1.1\n---\n" + _dump(trimmed))
    for source, table in rules.items():
        (out / source).write_text(_dump(table))
    index = {"type": "index", "version": 4, "distributions": {args.distro: {
        "distribution": [f"{args.distro}/distribution.yaml"], "distribution_status": "active",
        "distribution_type": "ros2", "python_version": 3}}}
    (out / "index-v4.yaml").write_text("%YAML 1.1\n---\n" + _dump(index))
    (out / "LICENSE").write_text(_git_show(args.git_dir, commit, "LICENSE"))
    (out / "README.md").write_text(
        f"# rosdistro snapshot for the packaging tests\n\n"
        f"Entries cut from [ros/rosdistro](https://github.com/ros/rosdistro) at commit `{commit}` (licence: "
        f"BSD-3-Clause, `LICENSE` here) by `tools/packaging/snapshot_rosdistro.py`: the rosdep rules "
        f"(`rosdep/base.yaml`, `rosdep/python.yaml`) and the {args.distro} release entries of the "
        f"{len(keys)} dependency keys our package.xml files declare, copied verbatim; an index without "
        f"a distribution cache. Keys the rosdistro lacks: {', '.join(missing) or 'none'}.\n")
    print(f"{out}: {len(repos)} {args.distro} repositories, "
          f"{sum(len(t) for t in rules.values())} rosdep rules, missing: {missing or 'none'}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
