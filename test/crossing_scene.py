"""Two look-alike targets crossing on a textured wall, for the several-target tests: the same shape and size, a
dark disc on a square, one orange and one a slightly different orange; A passes in front of B. After the crossing
B can vanish so that it is lost while A is kept."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

WIDTH, HEIGHT, SIDE = 320, 240, 36


@dataclass
class Crossing:
    frames: int = 60
    hide_b_from: int | None = None  # from this frame on B is not drawn

    def __post_init__(self) -> None:
        rng = np.random.default_rng(3)
        self.wall = rng.integers(120, 136, (HEIGHT, WIDTH, 3), dtype=np.uint8)  # a plain wall, faint noise
        self.sprites = [self._sprite((40, 140, 240)), self._sprite((60, 120, 230))]

    @staticmethod
    def _sprite(colour: tuple[int, int, int]) -> np.ndarray:
        sprite = np.zeros((SIDE, SIDE, 3), np.uint8)
        sprite[:] = colour
        cv2.circle(sprite, (SIDE // 2, SIDE // 2), SIDE // 4, (20, 60, 160), -1)
        return sprite

    def boxes(self, k: int) -> list[tuple[float, float, float, float]]:
        """True (x, y, w, h) of A and B on frame k: A left to right, B right to left, crossing mid-way."""
        t = k / max(self.frames - 1, 1)
        ax = 40 + t * (WIDTH - 80 - SIDE)
        bx = WIDTH - 40 - SIDE - t * (WIDTH - 80 - SIDE)
        return [(ax, 100.0, SIDE, SIDE), (bx, 108.0, SIDE, SIDE)]

    def visible(self, k: int) -> list[bool]:
        return [True, self.hide_b_from is None or k < self.hide_b_from]

    def render(self, k: int) -> np.ndarray:
        """Frame k (B hidden from hide_b_from on: nothing like it left in its search region)."""
        image = self.wall.copy()
        for index in (1, 0):  # B first: A passes in front of it
            x, y, w, h = (int(round(v)) for v in self.boxes(k)[index])
            if self.visible(k)[index]:
                image[y:y + h, x:x + w] = self.sprites[index]
        return image
