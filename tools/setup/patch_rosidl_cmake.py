"""Point the ROS wheels' rosidl Python-generator CMake exports at this interpreter's include dirs.

The wheels were built in a container whose Python and numpy include paths do not exist here, which
breaks CMake's generate step for any interface package. Only files inside the given prefix are touched.
"""
from __future__ import annotations

import re
import sys
import sysconfig
from pathlib import Path

import numpy

INCLUDE_LIST = re.compile(r'INTERFACE_INCLUDE_DIRECTORIES "([^"]*)"')


def fixed_include(path: str) -> str:
    """Map a missing Python or numpy include directory to this interpreter's one."""
    if Path(path).exists():
        return path
    if re.search(r"numpy/(_core|core)/include$", path):
        return numpy.get_include()
    if re.search(r"/include/python3\.\d+$", path):
        return sysconfig.get_paths()["include"]
    return path


def patch_file(path: Path) -> bool:
    text = path.read_text()
    def rewrite(match: re.Match) -> str:
        paths = ";".join(fixed_include(p) for p in match.group(1).split(";"))
        return f'INTERFACE_INCLUDE_DIRECTORIES "{paths}"'

    new = INCLUDE_LIST.sub(rewrite, text)
    if new != text:
        path.write_text(new)
        return True
    return False


def main(prefix: str) -> int:
    files = sorted(Path(prefix, "share").glob("*/cmake/*__rosidl_generator_pyExport*.cmake"))
    changed = [f for f in files if patch_file(f)]
    print(f"rosidl cmake exports: {len(files)} checked, {len(changed)} patched")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else sys.prefix))
