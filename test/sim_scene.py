"""A small simulated scene for the follow-target test: a planar robot with a forward-looking pinhole camera, a
textured square target standing in front of a textured far wall, rendered as colour + registered depth +
camera_info. World frame: x forward at start, y left, z up; the camera sits on the robot's turning axis."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

WIDTH, HEIGHT = 320, 240
FX = FY = 260.0
CX, CY = (WIDTH - 1) / 2.0, (HEIGHT - 1) / 2.0
WALL_M = 9.0  # the wall's depth (everything that is not the target)
TARGET_SIDE_M = 0.6


@dataclass
class Robot:
    x: float = 0.0
    y: float = 0.0
    yaw: float = 0.0

    def step(self, linear: float, angular: float, dt: float) -> None:
        self.x += linear * math.cos(self.yaw) * dt
        self.y += linear * math.sin(self.yaw) * dt
        self.yaw += angular * dt


@dataclass
class Scene:
    target_xy: np.ndarray = field(default_factory=lambda: np.array([3.2, 0.5]))
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(7))

    def __post_init__(self) -> None:
        # The wall: a 360-degree panorama (columns per radian of bearing), so turning the robot moves it.
        self.panorama = np.kron(self.rng.integers(40, 200, (HEIGHT // 8, 2048 // 8, 3), dtype=np.uint8),
                                np.ones((8, 8, 1), np.uint8))
        import cv2

        # The target: an orange square with a dark disc, an object the mask branch segments (on a noise texture
        # it segments a quarter of the square, off-centre).
        self.texture = np.zeros((128, 128, 3), np.uint8)
        self.texture[:] = (40, 140, 240)
        cv2.circle(self.texture, (64, 64), 30, (20, 60, 160), -1)

    def target_in_camera(self, robot: Robot) -> np.ndarray:
        """The target's centre in the camera's optical frame (x right, y down, z forward), metres."""
        dx, dy = self.target_xy - np.array([robot.x, robot.y])
        forward = math.cos(robot.yaw) * dx + math.sin(robot.yaw) * dy
        left = -math.sin(robot.yaw) * dx + math.cos(robot.yaw) * dy
        return np.array([-left, 0.0, forward])

    def render(self, robot: Robot) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float, float]]:
        """BGR image, depth in metres (float32) and the target's box (x, y, w, h) in pixels."""
        columns = (np.arange(WIDTH) - CX) / FX
        bearing = (robot.yaw - np.arctan(columns)) % (2 * math.pi)  # world bearing of each image column
        index = (bearing / (2 * math.pi) * self.panorama.shape[1]).astype(int) % self.panorama.shape[1]
        image = np.ascontiguousarray(self.panorama[:, index])
        depth = np.full((HEIGHT, WIDTH), WALL_M, np.float32)
        x, _, z = self.target_in_camera(robot)
        box = (0.0, 0.0, 0.0, 0.0)
        if z > 0.2:
            side = FX * TARGET_SIDE_M / z
            u, v = CX + FX * x / z, CY
            x0, y0 = int(round(u - side / 2)), int(round(v - side / 2))
            x1, y1 = x0 + int(round(side)), y0 + int(round(side))
            cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, WIDTH), min(y1, HEIGHT)
            if cx1 > cx0 and cy1 > cy0:
                import cv2

                patch = cv2.resize(self.texture, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
                image[cy0:cy1, cx0:cx1] = patch[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0]
                depth[cy0:cy1, cx0:cx1] = z
                box = (float(x0), float(y0), float(x1 - x0), float(y1 - y0))
        return image, depth, box
