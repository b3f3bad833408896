"""rosbag2 files (sqlite3 and MCAP) without ROS, with `rosbags`: read the image messages of one topic, write a bag
with those images plus what the node would have published for them (detection, detections, mask, masks,
confidence), by the node's own rule (attsiammask_core.session.publication)."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from attsiammask_core.image_messages import compressed_to_bgr, image_to_bgr
from attsiammask_core.session.publication import DetectionFields, frame_publication
from attsiammask_core.session.results import FrameResult

IMAGE = "sensor_msgs/msg/Image"
COMPRESSED = "sensor_msgs/msg/CompressedImage"
DETECTION = "vision_msgs/msg/Detection2D"
DETECTIONS = "vision_msgs/msg/Detection2DArray"
FLOAT32 = "std_msgs/msg/Float32"
# vision_msgs (not in rosbags' stores): the fields of interfaces/vision_msgs_fallback (upstream 4.1.1), which a
# test keeps equal to those files.
VISION_MSGS = {
    "vision_msgs/msg/Point2D": "float64 x\nfloat64 y\n",
    "vision_msgs/msg/Pose2D": "Point2D position\nfloat64 theta\n",
    "vision_msgs/msg/BoundingBox2D": "Pose2D center\nfloat64 size_x\nfloat64 size_y\n",
    "vision_msgs/msg/ObjectHypothesis": "string class_id\nfloat64 score\n",
    "vision_msgs/msg/ObjectHypothesisWithPose": "ObjectHypothesis hypothesis\ngeometry_msgs/PoseWithCovariance pose\n",
    "vision_msgs/msg/Detection2D": "std_msgs/Header header\nObjectHypothesisWithPose[] results\nBoundingBox2D bbox\n"
                                   "string id\n",
    "vision_msgs/msg/Detection2DArray": "std_msgs/Header header\nDetection2D[] detections\n",
}


class BagError(ValueError):
    """A bag that cannot be used: missing, corrupt, without the topic, or of the wrong message type."""


def typestore() -> Any:
    """ROS 2 Kilted's message types plus the vision_msgs the node publishes."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_KILTED)
    types = {}
    for name, text in VISION_MSGS.items():
        types.update(get_types_from_msg(text, name))
    store.register(types)
    return store


@dataclass(frozen=True)
class BagImage:
    """One image message of the bag: its log time (ns), header, the decoded frame (BGR) and its raw CDR bytes."""

    index: int
    log_time_ns: int
    header: Any
    frame: np.ndarray
    raw: bytes


class ImageBag:
    """The image messages of `topic` in a rosbag2 folder (or a ROS 1 bag), in log-time order."""

    def __init__(self, path: Path, topic: str) -> None:
        from rosbags.highlevel import AnyReader

        self.path, self.topic, self.store = Path(path), topic, typestore()
        if not self.path.exists():
            raise BagError(f"bag not found: {self.path}")
        try:
            self._reader = AnyReader([self.path], default_typestore=self.store)
            self._reader.open()
        except Exception as exc:  # rosbags parses the file's bytes and raises whatever its parser meets in a
            # corrupt one (fuzzing found MemoryError and OverflowError from sizes a record declares, besides these)
            raise BagError(f"{self.path}: cannot read the bag ({type(exc).__name__}: {exc})") from None
        connections = [c for c in self._reader.connections if c.topic == topic]
        if not connections:
            topics = ", ".join(sorted(f"{c.topic} ({c.msgtype})" for c in self._reader.connections)) or "none"
            self.close()
            raise BagError(f"{self.path}: no topic {topic!r}; the bag has {topics}")
        types = {c.msgtype for c in connections}
        if not types <= {IMAGE, COMPRESSED}:
            self.close()
            raise BagError(f"{self.path}: {topic} holds {', '.join(sorted(types))}, not {IMAGE} or {COMPRESSED}")
        self.connections = connections
        self.msgtype = connections[0].msgtype
        self.count = sum(c.msgcount for c in connections)

    def images(self) -> Iterator[BagImage]:
        """Decoded images; ValueError naming the message for an undecodable one (unknown encoding, ...)."""
        try:
            for index, (connection, log_time, raw) in enumerate(self._reader.messages(connections=self.connections)):
                msg = self._reader.deserialize(raw, connection.msgtype)
                decode = compressed_to_bgr if connection.msgtype == COMPRESSED else image_to_bgr
                try:
                    frame = decode(msg)
                except ValueError as exc:
                    raise BagError(f"{self.path}: message {index} on {self.topic}: {exc}") from None
                yield BagImage(index, log_time, msg.header, frame, bytes(raw))
        except BagError:
            raise
        except Exception as exc:  # as in __init__: a corrupt record raises whatever rosbags' parser meets
            raise BagError(f"{self.path}: corrupt bag ({type(exc).__name__}: {exc})") from None

    def close(self) -> None:
        self._reader.close()


class OutputBag:
    """A new rosbag2 with the input images and the node's topics (same storage as the input); ``masks`` (the label
    image) is written when several targets are tracked."""

    def __init__(self, path: Path, image_topic: str, image_type: str, namespace: str, store: Any,
                 mcap: bool, several: bool = False) -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer

        if Path(path).exists():
            raise BagError(f"output bag {path} exists: choose another --out")
        self.store = store
        self._writer = Writer(path, version=9, storage_plugin=StoragePlugin.MCAP if mcap else StoragePlugin.SQLITE3)
        self._writer.open()
        ns = namespace.rstrip("/")

        def add(topic: str, msgtype: str) -> Any:
            return self._writer.add_connection(topic, msgtype, typestore=store)

        self._image = add(image_topic, image_type)
        self._detection = add(f"{ns}/detection", DETECTION)
        self._detections = add(f"{ns}/detections", DETECTIONS)
        self._mask = add(f"{ns}/mask", IMAGE)
        self._masks = add(f"{ns}/masks", IMAGE) if several else None
        self._confidence = add(f"{ns}/confidence", FLOAT32)

    def write(self, image: BagImage, result: FrameResult | None, class_id: str = "target") -> None:
        """The input image as it was, then what the node publishes for it (nothing but confidence 0 on frames
        before tracking starts and on the frame the targets are set on: ``result`` None)."""
        when = image.log_time_ns
        self._writer.write(self._image, when, image.raw)
        out = frame_publication(result or FrameResult(0, image.frame.shape[:2]), class_id)
        self._put(self._confidence, when, self.store.types[FLOAT32](data=out.confidence), FLOAT32)
        if result is None:
            return
        if out.detection is not None:
            self._put(self._detection, when, self._detection_msg(image.header, out.detection), DETECTION)
        detections = [self._detection_msg(image.header, d) for d in out.detections]
        self._put(self._detections, when, self.store.types[DETECTIONS](header=image.header, detections=detections),
                  DETECTIONS)
        if out.mask is not None:
            self._put(self._mask, when, self._mono8(image.header, np.where(out.mask, np.uint8(255), np.uint8(0))),
                      IMAGE)
        if out.labels is not None and self._masks is not None:
            self._put(self._masks, when, self._mono8(image.header, out.labels), IMAGE)

    def _mono8(self, header: Any, pixels: np.ndarray) -> Any:
        return self.store.types[IMAGE](header=header, height=pixels.shape[0], width=pixels.shape[1],
                                       encoding="mono8", is_bigendian=0, step=pixels.shape[1],
                                       data=pixels.reshape(-1))

    def _detection_msg(self, header: Any, d: DetectionFields) -> Any:
        """rosbags' Detection2D from the node's shared mapping (DetectionFields)."""
        t = self.store.types
        geometry = "geometry_msgs/msg/"
        pose = t[geometry + "PoseWithCovariance"](
            pose=t[geometry + "Pose"](position=t[geometry + "Point"](x=d.center_x, y=d.center_y, z=0.0),
                                      orientation=t[geometry + "Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0)),
            covariance=np.zeros(36, dtype=np.float64))
        hypothesis = t["vision_msgs/msg/ObjectHypothesisWithPose"](
            hypothesis=t["vision_msgs/msg/ObjectHypothesis"](class_id=d.class_id, score=d.score), pose=pose)
        bbox = t["vision_msgs/msg/BoundingBox2D"](
            center=t["vision_msgs/msg/Pose2D"](position=t["vision_msgs/msg/Point2D"](x=d.center_x, y=d.center_y),
                                              theta=0.0),
            size_x=d.size_x, size_y=d.size_y)
        return t[DETECTION](header=header, results=[hypothesis], bbox=bbox, id=d.track_id)

    def _put(self, connection: Any, when: int, msg: Any, msgtype: str) -> None:
        self._writer.write(connection, when, self.store.serialize_cdr(msg, msgtype))

    def close(self) -> None:
        self._writer.close()
