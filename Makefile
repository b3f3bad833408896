# One-command setup and test on a plain machine with Python 3.11 (no ROS distribution, no GPU, no root).
# Everything is written inside this repository (.venv, build/, install/, env.sh) and the pip cache.

PYTHON      ?= python3.11
VENV        := $(CURDIR)/.venv
PREFIX      := $(CURDIR)/install
STAMPS      := $(CURDIR)/.stamps
VPY         := $(VENV)/bin/python
PIP         := $(VPY) -m pip --disable-pip-version-check -q
# CPU build by default; e.g. TORCH="torch==2.13.0" TORCH_PIP_ARGS="--index-url <CUDA wheel index>"
TORCH       ?= torch==2.13.0
TORCH_PIP_ARGS ?=
PYTEST_ARGS ?=
# DDS discovery stays on this host; a test-only domain keeps tests away from other ROS graphs.
export ROS_AUTOMATIC_DISCOVERY_RANGE := LOCALHOST
TEST_DOMAIN_ID ?= 73

.PHONY: setup test lint clean
.DEFAULT_GOAL := setup

setup: $(STAMPS)/ros-layout env.sh
	@echo "setup complete: source env.sh to use the tools (attsiammask, set_target, tracker_node)"

$(STAMPS)/venv:
	@mkdir -p $(STAMPS)
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required (ROS 2 Kilted wheels are cp311): set PYTHON=/path/to/python3.11"'
	$(PYTHON) -m venv $(VENV)
	@touch $@

# build/ and install/ hold copies of package.xml files: COLCON_IGNORE keeps colcon and rosdep (catkin_pkg) out of
# them when this checkout sits in a ROS workspace.
$(STAMPS)/colcon-ignore:
	@mkdir -p $(STAMPS) build $(PREFIX)
	@touch build/COLCON_IGNORE $(PREFIX)/COLCON_IGNORE
	@touch $@

$(STAMPS)/deps: $(STAMPS)/venv $(STAMPS)/colcon-ignore requirements.txt requirements-build.txt
	$(PIP) install "$(TORCH)" $(TORCH_PIP_ARGS)
	$(PIP) install -r requirements.txt -r requirements-build.txt "$(TORCH)"
	$(VPY) tools/setup/patch_rosidl_cmake.py $(VENV)
	@touch $@

# vision_msgs is built from our definitions only when the environment does not already provide it.
$(STAMPS)/vision_msgs: $(STAMPS)/deps $(wildcard interfaces/vision_msgs_fallback/*.* interfaces/vision_msgs_fallback/msg/*)
	@if env -u PYTHONPATH $(VPY) -c 'import vision_msgs.msg' 2>/dev/null; then \
	  echo "vision_msgs already installed: using it"; \
	else \
	  tools/setup/build_interface.sh interfaces/vision_msgs_fallback build/vision_msgs $(PREFIX) $(VENV); \
	fi
	@touch $@

$(STAMPS)/interfaces: $(STAMPS)/vision_msgs $(wildcard interfaces/attsiammask_interfaces/*.* interfaces/attsiammask_interfaces/srv/*)
	tools/setup/build_interface.sh interfaces/attsiammask_interfaces build/attsiammask_interfaces $(PREFIX) $(VENV)
	@touch $@

# Editable install: `import attsiammask_core` and the console scripts run the sources of this tree.
$(STAMPS)/editable: $(STAMPS)/deps setup.py setup.cfg
	$(PIP) install --no-deps --no-build-isolation -e .
	@touch $@

# The ament layout ros2 run / launch look in: lib/attsiammask_ros/<executables>, share/attsiammask_ros/...
$(STAMPS)/ros-layout: $(STAMPS)/interfaces $(STAMPS)/editable package.xml $(wildcard launch/* config/* resource/*)
	@mkdir -p build/attsiammask_ros
	$(VPY) setup.py -q egg_info --egg-base build/attsiammask_ros \
	  install_data --install-dir=$(PREFIX) \
	  install_scripts --install-dir=$(PREFIX)/lib/attsiammask_ros > build/attsiammask_ros/install.log 2>&1 \
	  || { tail -30 build/attsiammask_ros/install.log; exit 1; }
	@touch $@

env.sh: tools/setup/write_env.sh Makefile
	tools/setup/write_env.sh $(VENV) $(PREFIX) > $@

test: setup
	export ROS_DOMAIN_ID=$(TEST_DOMAIN_ID); . ./env.sh; python -m pytest $(PYTEST_ARGS)

lint: setup
	. ./env.sh && ruff check attsiammask_core attsiammask_ros test launch tools

clean:
	rm -rf $(VENV) build install log $(STAMPS) env.sh

# The official VOT toolkit (vot-toolkit 0.9.0) running our tracker once, offline, on one local sequence
# (tools/vot_toolkit/README.md). The toolkit gets its own venv, .venv-vot (it pulls opencv-python, which must not
# meet our opencv-contrib-python-headless); the tracker process runs on .venv's python with the `trax` module
# from .venv-vot/tracker-site. Not run by CI. Options: VOT_SEQUENCE=<name> VOT_DATA=<folder of sequences>
# VOT_TRACKER=<section of tools/vot_toolkit/trackers.ini> (default AttSiamMask_r50_random: random weights).
.PHONY: vot-check
vot-check: setup
	@data="$(or $(VOT_DATA),$(abspath $(CURDIR)/../shared/data/sequences))"; seq="$(or $(VOT_SEQUENCE),Crossing)"; \
	test -f "$$data/$$seq/groundtruth.txt" || { echo "vot-check: sequence $$data/$$seq not found: it needs the \
	project's ../shared/data/sequences (or VOT_DATA=<folder> VOT_SEQUENCE=<name>)"; exit 2; }
	@if [ ! -f .venv-vot/.installed ] || [ tools/vot_toolkit/requirements.txt -nt .venv-vot/.installed ]; then \
	  set -e; echo "building .venv-vot (vot-toolkit, pinned in tools/vot_toolkit/requirements.txt)"; rm -rf .venv-vot; \
	  $(PYTHON) -m venv .venv-vot; \
	  .venv-vot/bin/python -m pip --disable-pip-version-check install -r tools/vot_toolkit/requirements.txt \
	    > .venv-vot/pip.log 2>&1 || { tail -20 .venv-vot/pip.log; exit 1; }; \
	  .venv-vot/bin/python -m pip --disable-pip-version-check install --no-deps --target .venv-vot/tracker-site \
	    vot-trax==4.0.2 six==1.17.0 >> .venv-vot/pip.log 2>&1 || { tail -20 .venv-vot/pip.log; exit 1; }; \
	  touch .venv-vot/.installed; fi
	.venv-vot/bin/python tools/vot_toolkit/make_workspace.py --force --out build/vot-workspace \
	  --data "$(or $(VOT_DATA),$(abspath $(CURDIR)/../shared/data/sequences))" --sequences $(or $(VOT_SEQUENCE),Crossing)
	cd build/vot-workspace && VOT_RESULTS_BINARY=false ../../.venv-vot/bin/vot evaluate --workspace . \
	  $(or $(VOT_TRACKER),AttSiamMask_r50_random)
	cd build/vot-workspace && ../../.venv-vot/bin/vot analysis --workspace . --name vot-check \
	  $(or $(VOT_TRACKER),AttSiamMask_r50_random)
	.venv-vot/bin/python tools/vot_toolkit/show_results.py build/vot-workspace $(or $(VOT_TRACKER),AttSiamMask_r50_random)

# The whole ROS pipeline on a clip over localhost DDS (attsiammask_ros/demo/run.py): the tracker node, a player
# publishing the clip at its frame rate, a client calling set_target with the first frame's box; writes
# outputs/demo/ (demo.mp4, results.jsonl, summary.json) and prints IoU, fps and latency. Default: the embedded clip
# and the embedded lite model. Options: VIDEO=file BOX=x,y,w,h | SEQ=folder, WEIGHTS=file, DEVICE=cpu|cuda|auto,
# DEMO_ARGS="--max-frames 40 ...", DEMO_DOMAIN_ID (private ROS domain, default 74).
DEMO_DOMAIN_ID ?= 74
.PHONY: demo
demo: setup
	. ./env.sh && ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST ROS_DOMAIN_ID=$(DEMO_DOMAIN_ID) python -m attsiammask_ros.demo.run \
	  $(if $(VIDEO),--video "$(VIDEO)") $(if $(BOX),--box "$(BOX)") $(if $(SEQ),--seq "$(SEQ)") \
	  $(if $(WEIGHTS),--weights "$(WEIGHTS)") $(if $(DEVICE),--device "$(DEVICE)") $(DEMO_ARGS)

# Fuzzing (issue 25): every atheris target of test/fuzz/ (image messages, compressed images, camera_info and depth,
# weights files, bags, set_target, the export manifest) for FUZZ_SECONDS each, one after another, single-threaded,
# from the committed seeds and regression inputs; corpus, crash files and logs in build/fuzz/. Prints a table (inputs
# run, coverage, peak memory, findings) and fails on any crash. `make test` runs each for a few seconds.
# Options: FUZZ_TARGETS="compressed bag", FUZZ_RSS_LIMIT_MB (libFuzzer -rss_limit_mb), FUZZ_TIMEOUT (-timeout, s).
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?=
FUZZ_RSS_LIMIT_MB ?= 2048
FUZZ_TIMEOUT ?= 10
.PHONY: fuzz
fuzz: setup
	. ./env.sh && python test/fuzz/run_targets.py --seconds $(FUZZ_SECONDS) --rss-limit-mb $(FUZZ_RSS_LIMIT_MB) \
	  --timeout $(FUZZ_TIMEOUT) $(if $(FUZZ_TARGETS),--targets $(FUZZ_TARGETS))

# GPU readiness (issue 25): tools/gpu_check.py tracks a real sequence (default Crossing from data/sequences or
# ../shared/data/sequences) with torch on CUDA and onnxruntime's CUDA and TensorRT providers and compares every
# frame's box with the CPU run of the same backend (thresholds in its --help); prints a table. Without a GPU it says
# so, runs the CPU-side checks and exits 0 when they pass. A GPU machine needs torch's CUDA build (TORCH_PIP_ARGS
# above) and onnxruntime-gpu. Options: GPU_CHECK_ARGS="--seq <folder> --frames 60 --require-gpu ...".
GPU_CHECK_ARGS ?=
.PHONY: gpu-check
gpu-check: setup
	. ./env.sh && python tools/gpu_check.py $(GPU_CHECK_ARGS)
