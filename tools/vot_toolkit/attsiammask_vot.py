"""Att-SiamMask as a TraX tracker for the official VOT toolkit (``vot-toolkit`` 0.9.x).

The toolkit starts this script as a separate process and talks to it over the TraX protocol on
stdin/stdout (the ``trax`` module of the ``vot-trax`` package, which needs only numpy and six).
Loop: the toolkit sends ``initialize`` (image + region), we answer with the region we were given;
then one ``frame`` per image, we answer with our polygon (default), box or mask; ``quit`` ends the
process. ``initialize`` may come again at any time (a new run on the same process): the Tracker is
simply initialised again. Single target (no ``multiobject`` in the handshake).

The same file also serves the toolkit's ``python`` protocol (``VotTracker`` below): there the toolkit
imports this module in a worker process of its own interpreter, so attsiammask_core and torch must be
installed in the toolkit's environment. Either way, vot-toolkit 0.9.0 runs only its ``unsupervised``
experiment with a single-target tracker; its ``supervised`` and ``multistart`` experiments fail inside the
toolkit (README.md, "Known problems").

Launching, from ``trackers.ini`` (see ``trackers.ini`` and ``README.md`` beside this file):
  protocol = traxpython, command = attsiammask_vot, python = <our .venv>/bin/python,
  paths = <this folder>:<a folder holding the trax package>
or ``python attsiammask_vot.py [options]`` as the command of protocol = trax.

Options (command line, else environment variable, else default):
  --variant     ATTSIAMMASK_VARIANT      model variant (default: Tracker.create's default)
  --weights     ATTSIAMMASK_WEIGHTS      weights file (.pth / .pt)
  --attention   ATTSIAMMASK_ATTENTION    1/0, attention step on/off (default: Tracker.create's default)
  --device      ATTSIAMMASK_DEVICE       cpu, cuda, cuda:N, auto (default cpu)
  --random-init ATTSIAMMASK_RANDOM_INIT  1 = random weights: protocol smoke tests only, results meaningless
  --region      ATTSIAMMASK_VOT_REGION   polygon (default: the rotated box of the mask), rectangle or mask
Nothing is written to stdout except TraX messages; our messages go to stderr (the toolkit's tracker log).
"""
from __future__ import annotations

import argparse
import math
import os
import sys

import cv2
import numpy as np

TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")


def _env_bool(name: str) -> bool | None:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return None
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise SystemExit(f"attsiammask_vot: {name}={value!r} is not a boolean (use 1/0)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; each falls back to its ATTSIAMMASK_* environment variable."""
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", default=env("ATTSIAMMASK_VARIANT") or None)
    parser.add_argument("--weights", default=env("ATTSIAMMASK_WEIGHTS") or None)
    parser.add_argument("--attention", type=lambda s: s.strip().lower() in TRUE,
                        default=_env_bool("ATTSIAMMASK_ATTENTION"))
    parser.add_argument("--device", default=env("ATTSIAMMASK_DEVICE") or "cpu")
    parser.add_argument("--random-init", action="store_true", default=bool(_env_bool("ATTSIAMMASK_RANDOM_INIT")))
    parser.add_argument("--region", choices=("polygon", "rectangle", "mask"),
                        default=env("ATTSIAMMASK_VOT_REGION") or "polygon")
    return parser.parse_args(argv)


def build_tracker(args: argparse.Namespace):
    """Tracker.create with only the options that were given, so its own defaults apply otherwise."""
    from attsiammask_core import Tracker

    kwargs = {"device": args.device}
    if args.variant:
        kwargs["variant"] = args.variant
    if args.weights:
        kwargs["weights"] = args.weights
    if args.attention is not None:
        kwargs["attention"] = args.attention
    if args.random_init:
        kwargs["random_init"] = True
        print("attsiammask_vot: RANDOM weights (ATTSIAMMASK_RANDOM_INIT=1): protocol check only, "
              "the tracking results mean nothing", file=sys.stderr)
    try:
        return Tracker.create(**kwargs)
    except ValueError as error:  # e.g. a variant without embedded weights and no --weights
        raise SystemExit(f"attsiammask_vot: cannot build the tracker with {kwargs}: {error}") from error


def read_image(image) -> np.ndarray:
    """A TraX image (path, memory RGB/gray or encoded buffer) as H x W x 3 uint8 BGR."""
    from trax import Image

    kind = image.type()
    if kind == Image.PATH:
        frame = cv2.imread(image.path(), cv2.IMREAD_COLOR)
        if frame is None:
            raise RuntimeError(f"cannot read image {image.path()!r}")
        return frame
    if kind == Image.MEMORY:
        array = image.array()
        if array.dtype != np.uint8:  # 16-bit gray
            array = (array >> 8).astype(np.uint8)
        if array.ndim == 2 or array.shape[2] == 1:
            return cv2.cvtColor(array.reshape(array.shape[:2]), cv2.COLOR_GRAY2BGR)
        return cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    if kind == Image.BUFFER:
        frame = cv2.imdecode(np.frombuffer(image.buffer(), np.uint8), cv2.IMREAD_COLOR)
        if frame is None:
            raise RuntimeError("cannot decode the image buffer")
        return frame
    raise RuntimeError(f"unsupported TraX image type {kind!r}")


def polygon_to_box(points: np.ndarray) -> tuple[float, float, float, float]:
    """Area-preserving axis-aligned box (x, y, w, h) of a polygon, as SiamMask/pysot start from VOT polygons:
    centred on the vertices' mean, the bounding box's shape scaled so its area equals the polygon's."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    cx, cy = points.mean(axis=0)
    x1, y1 = points.min(axis=0)
    x2, y2 = points.max(axis=0)
    x, y = points[:, 0], points[:, 1]
    area = 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
    bbox_area = (x2 - x1) * (y2 - y1)
    scale = math.sqrt(area / bbox_area) if bbox_area > 0 and area > 0 else 1.0
    w, h = scale * (x2 - x1), scale * (y2 - y1)
    return float(cx - w / 2), float(cy - h / 2), float(w), float(h)


def region_to_box(region) -> tuple[float, float, float, float]:
    """The (x, y, w, h) our Tracker.init takes, from a TraX rectangle, polygon or mask."""
    from trax import Region

    if region.type == Region.RECTANGLE:
        return tuple(float(v) for v in region.bounds())
    if region.type == Region.POLYGON:
        return polygon_to_box(np.array(list(region)))
    if region.type == Region.MASK:
        ys, xs = np.nonzero(region.array())
        if len(xs) == 0:
            raise RuntimeError("initial mask is empty")
        ox, oy = region.offset()
        x1, y1, x2, y2 = int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())
        return float(x1 + ox), float(y1 + oy), float(x2 - x1 + 1), float(y2 - y1 + 1)
    raise RuntimeError(f"unsupported initial region type {region.type!r}")


def result_to_region(result, kind: str):
    """Our TrackResult as a TraX region: the 4-point polygon (rotated box of the mask), the box or the mask."""
    from trax import Mask, Polygon, Rectangle

    if kind == "mask" and result.mask.any():
        return Mask.create(np.ascontiguousarray(result.mask, dtype=np.uint8))
    polygon = np.asarray(result.polygon, dtype=np.float64).reshape(-1, 2)
    if kind == "polygon" and len(polygon) >= 3 and np.isfinite(polygon).all():
        return Polygon.create([(float(px), float(py)) for px, py in polygon])
    x, y, w, h = (float(v) for v in result.box)
    return Rectangle.create(x, y, w, h)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tracker = build_tracker(args)  # before the handshake: a configuration error shows in the toolkit's log

    from trax import Image, Region, Server, TraxStatus

    with Server([Region.RECTANGLE, Region.POLYGON, Region.MASK], [Image.PATH, Image.MEMORY, Image.BUFFER],
                tracker_name="attsiammask", tracker_family="siamese") as server:
        while True:
            request = server.wait()
            if request.type in (TraxStatus.QUIT, TraxStatus.ERROR):
                break
            frame = read_image(request.image["color"])
            if request.type == TraxStatus.INITIALIZE:
                region, _properties = request.objects[0]  # single target: the toolkit sends exactly one
                tracker.init(frame, region_to_box(region))
                server.status([(region, {})])  # the reply to initialize is the region we were given
            else:
                result = tracker.track(frame)
                server.status([(result_to_region(result, args.region),
                                {"confidence": f"{result.score:.6f}", "state": result.state})])
    return 0


class VotTracker:
    """The toolkit's ``python`` protocol: ``command = attsiammask_vot:VotTracker``; the ``arg_<name>`` keys of
    trackers.ini arrive as keyword strings (variant, weights, attention, device, random_init, region).

    The toolkit calls ``init(frame, new, properties)`` and ``update(frame, new, properties)`` with ``frame`` an
    image path (or a dict of RGB arrays for multi-channel sequences) and ``new`` an (encoded region, properties)
    pair: a rectangle as (x, y, w, h), a polygon as [(x, y), ...], a mask as a 2-D array. We return the same
    encodings with our properties. The default output here is the rectangle: vot-toolkit 0.9.0 cannot decode a
    polygon answered over this protocol ("float() argument must be a string or a real number, not 'Point'").
    """

    multiobject = False

    def __init__(self, variant: str = "", weights: str = "", attention: str = "", device: str = "cpu",
                 random_init: str = "0", region: str = "rectangle") -> None:
        argv = ["--device", device, "--region", region]
        argv += ["--variant", variant] if variant else []
        argv += ["--weights", weights] if weights else []
        argv += ["--attention", attention] if str(attention).strip() else []
        argv += ["--random-init"] if str(random_init).strip().lower() in TRUE else []
        self.region = region
        self.tracker = build_tracker(parse_args(argv))

    @staticmethod
    def _frame(frame) -> np.ndarray:
        if isinstance(frame, dict):
            frame = frame["color"]
        if isinstance(frame, str):
            image = cv2.imread(frame, cv2.IMREAD_COLOR)
            if image is None:
                raise RuntimeError(f"cannot read image {frame!r}")
            return image
        return cv2.cvtColor(np.asarray(frame, dtype=np.uint8), cv2.COLOR_RGB2BGR)

    def init(self, frame, new, properties=None):
        region = new[0] if isinstance(new, tuple) and len(new) == 2 and isinstance(new[1], dict) else new
        if isinstance(region, tuple) and len(region) == 4:
            box = tuple(float(v) for v in region)
        elif isinstance(region, list) and region and isinstance(region[0], tuple):
            box = polygon_to_box(np.array(region))
        else:
            ys, xs = np.nonzero(np.asarray(region))
            if len(xs) == 0:
                raise RuntimeError("initial mask is empty")
            box = (float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1))
        self.tracker.init(self._frame(frame), box)
        return region, {}

    def update(self, frame, new=None, properties=None):
        result = self.tracker.track(self._frame(frame))
        properties = {"confidence": f"{result.score:.6f}", "state": result.state}
        polygon = np.asarray(result.polygon, dtype=np.float64).reshape(-1, 2)
        if self.region == "mask" and result.mask.any():
            return result.mask.astype(np.uint8).tolist(), properties
        if self.region == "polygon" and len(polygon) >= 3 and np.isfinite(polygon).all():
            return [(float(px), float(py)) for px, py in polygon], properties
        return tuple(float(v) for v in result.box), properties


if __name__ == "__main__":
    sys.exit(main())
