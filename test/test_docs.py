"""The README and docs/: every relative link and image resolves (anchors included), the picture is small and inside
the repository, the README's commands exist, nothing points outside the repository, and every `attsiammask`
subcommand's --help ends with an example."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)|<img[^>]*\ssrc=\"([^\"]+)\"")
FENCE = re.compile(r"```[a-z]*\n(.*?)```", re.S)
MAX_README_LINES = 125
MAX_PICTURE_BYTES = 300_000
# Commands of the README that are not ours: the system's, ROS's and Python's tools.
SYSTEM_TOOLS = {"make", "ros2", "colcon", "rosdep", "mkdir", "git", "source", "cd", "python", "pip", "ssh", "torchrun",
                "export", "."}


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text())
    return {slug(m.group(1)) for m in re.finditer(r"^#+\s+(.+?)\s*$", text, re.M)}


def relative_links(page: Path) -> list[str]:
    text = FENCE.sub("", page.read_text())
    targets = [m.group(1) for m in LINK.finditer(text)]
    targets += [m.group(2) for m in IMAGE.finditer(text) if m.group(2)]
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:", t)]  # http:, https:, mailto: are not files


def test_slug_follows_github():
    assert slug("Service `set_target` (`attsiammask_interfaces/srv/SetTarget`)") == \
        "service-set_target-attsiammask_interfacessrvsettarget"
    assert slug("Contention: threads on a shared CPU") == "contention-threads-on-a-shared-cpu"


def test_the_pages_exist():
    names = {p.name for p in PAGES}
    for name in ("ros-interface.md", "deploy.md", "evaluation.md", "training.md", "packaging.md", "performance.md",
                 "troubleshooting.md"):
        assert name in names, f"docs/{name} is missing"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_and_image_resolves(page):
    problems = []
    for target in relative_links(page):
        path_part, _, anchor = target.partition("#")
        path = (page.parent / path_part).resolve() if path_part else page
        if not path.exists():
            problems.append(f"{target}: {path} does not exist")
            continue
        if REPO not in path.parents and path != REPO:
            problems.append(f"{target}: outside the repository")
        if anchor and path.suffix == ".md" and anchor not in anchors(path):
            problems.append(f"{target}: no heading #{anchor} in {path.relative_to(REPO)}")
    assert not problems, "\n".join(problems)


def test_the_readme_is_short_and_shows_a_small_picture():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= MAX_README_LINES
    images = [m.group(1) or m.group(2) for m in IMAGE.finditer(readme)]
    assert any(i.startswith("docs/images/") for i in images), "the README shows no picture from docs/images/"
    for image in images:
        assert not re.match(r"[a-z]+:", image), f"{image}: the README's images must be files of the repository"
        size = (REPO / image).stat().st_size
        assert size <= MAX_PICTURE_BYTES, f"{image}: {size} bytes"


def test_the_readme_starts_with_the_two_commands():
    lines = (REPO / "README.md").read_text().splitlines()
    assert lines[1] == "```bash" and lines[2].startswith("make demo") and lines[3].startswith("make test")


def _makefile_targets() -> set[str]:
    text = (REPO / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z][\w-]*)\s*:(?!=)", text, re.M))


def _console_scripts() -> set[str]:
    text = (REPO / "setup.py").read_text() + (REPO / "setup.cfg").read_text()
    return set(re.findall(r"^\s*\"?([\w-]+)\s*=\s*[\w.]+:\w+", text, re.M))


def _subcommands() -> set[str]:
    from attsiammask_core.cli import build_parser

    return set(_subparsers(build_parser()))


def _subparsers(parser) -> dict:
    import argparse

    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _readme_commands() -> list[list[str]]:
    """Every command line of the README's shell code blocks, split into words (continuations joined)."""
    readme = (REPO / "README.md").read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", readme, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #")[0].strip()
            for part in re.split(r"&&|;", line):
                words = shlex.split(part, posix=True) if part.strip() else []
                if words:
                    commands.append(words)
    return commands


def test_the_readme_commands_exist():
    targets, scripts, subcommands = _makefile_targets(), _console_scripts(), _subcommands()
    commands = _readme_commands()
    assert commands, "no command blocks found in the README"
    problems = []
    for words in commands:
        tool = words[0]
        if tool == "make":
            goals = [w for w in words[1:] if "=" not in w and not w.startswith("-")]
            problems += [f"make {g}: no such target" for g in goals if g not in targets]
        elif tool == "attsiammask":
            if words[1] not in subcommands:
                problems.append(f"attsiammask {words[1]}: no such subcommand")
        elif tool not in SYSTEM_TOOLS and tool not in scripts:
            problems.append(f"{tool}: not a console script of setup.py and not a known tool")
    assert not problems, "\n".join(problems)
    assert {"demo", "test"} <= targets


def test_inline_attsiammask_commands_of_the_docs_exist():
    subcommands = _subcommands()
    problems = []
    for page in PAGES:
        for sub in re.findall(r"`attsiammask ([a-z]+)\b", page.read_text()):
            if sub not in subcommands:
                problems.append(f"{page.name}: attsiammask {sub}")
    assert not problems, "\n".join(problems)


PRODUCT = ["attsiammask_core", "attsiammask_ros", "launch", "config", "docs", "README.md", "package.xml"]
SUFFIXES = {".py", ".md", ".yaml", ".yml", ".xml", ".txt", ".html", ".cfg", ".json"}
ALLOWED_SHARED_DATA = {"attsiammask_core/data/sources.json"}


def test_nothing_in_the_product_or_its_docs_points_outside_the_repository():
    offenders = []
    for name in PRODUCT:
        root = REPO / name
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.suffix in SUFFIXES]
        for path in files:
            text = path.read_text(errors="replace")
            if "shared/docs" in text:
                offenders.append(f"{path.relative_to(REPO)}: shared/docs")
            for line in text.splitlines():
                # Data paths of the project's shared set are allowed only in the provenance notes of sources.json.
                if "../shared" in line and str(path.relative_to(REPO)) not in ALLOWED_SHARED_DATA:
                    offenders.append(f"{path.relative_to(REPO)}: {line.strip()[:80]}")
    assert not offenders, "\n".join(offenders)


def test_every_subcommand_help_ends_with_an_example():
    from attsiammask_core.cli import build_parser

    problems = []
    for name, parser in _subparsers(build_parser()).items():
        last = parser.format_help().rstrip().split("\n\n")[-1]
        if not last.startswith(("example:", "examples:")) or "attsiammask" not in last:
            problems.append(f"attsiammask {name} --help ends with {last[:60]!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("module", ["set_target_client", "target_picker", "follow_target"])
def test_every_helper_executable_has_help_pointing_to_the_docs(module, capsys):
    import importlib

    main = importlib.import_module(f"attsiammask_ros.{module}").main
    try:
        code = main(["--help"])
    except SystemExit as exit_:  # argparse
        code = exit_.code
    out = capsys.readouterr().out
    assert code == 0
    assert "docs/ros-interface.md" in out and "example:" in out
    assert (REPO / "docs" / "ros-interface.md").is_file()


def test_ros_arguments_are_not_read_as_a_help_request():
    from attsiammask_ros.node_help import help_requested

    assert help_requested(["--help"]) and help_requested(["-h", "--ros-args"])
    assert not help_requested(["--ros-args", "-p", "x:=1", "--help"]) and not help_requested([])
