#!/usr/bin/env bash
# Build and install one ament_cmake interface package with the rosidl wheels of a venv.
# usage: build_interface.sh PACKAGE_DIR BUILD_DIR INSTALL_PREFIX VENV
set -euo pipefail
pkg_dir=$1 build_dir=$2 prefix=$3 venv=$4
mkdir -p "$build_dir" "$prefix"
# Packages already installed in the prefix (vision_msgs for our service) must be found too.
export AMENT_PREFIX_PATH="$prefix:$venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export PATH="$venv/bin:$PATH"
export PYTHONPATH="$prefix/lib/python3.11/site-packages${PYTHONPATH:+:$PYTHONPATH}"
export LD_LIBRARY_PATH="$prefix/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
cmake -S "$pkg_dir" -B "$build_dir" \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix;$venv" \
  -DCMAKE_INSTALL_PREFIX="$prefix" \
  -DPython3_EXECUTABLE="$venv/bin/python" \
  -DBUILD_TESTING=OFF > "$build_dir/configure.log" 2>&1 \
  || { tail -40 "$build_dir/configure.log"; exit 1; }
cmake --build "$build_dir" -j "$(nproc)" > "$build_dir/build.log" 2>&1 \
  || { tail -40 "$build_dir/build.log"; exit 1; }
cmake --install "$build_dir" > "$build_dir/install.log" 2>&1 \
  || { tail -40 "$build_dir/install.log"; exit 1; }
echo "built $(basename "$pkg_dir") into $prefix"
