"""Nothing aegen loads can run code.

A malicious pickle (whose unpickling creates a marker file) is planted where aegen expects a
checkpoint, z-points, a split, a fitted sampler or a cache entry. aegen must refuse it (or,
for a cache, rebuild it) and the marker must not exist afterwards. A static check keeps
unsafe loaders out of the source.
"""

from __future__ import annotations

import ast
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

import aegen
from aegen.samplers.base import load_sampler
from conftest import TINY_RUN_FLAGS, TINY_Z_DIM
from test_reliability import assert_user_error, cli

SRC = Path(aegen.__file__).resolve().parent


class Payload:
    """Unpickling this object calls ``open(marker, "w")``: it creates the marker file."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def marker(tmp_path) -> Path:
    path = tmp_path / "PWNED"
    # The payload is live: unpickling it really creates the marker.
    pickle.loads(pickle.dumps(Payload(path)))
    assert path.exists()
    path.unlink()
    return path


def _pickled_npy(path: Path, marker: Path) -> None:
    np.save(path, np.array([Payload(marker)], dtype=object), allow_pickle=True)


def _pickled_npz(path: Path, marker: Path, **arrays) -> None:
    with open(path, "wb") as fh:
        np.savez(fh, payload=np.array([Payload(marker)], dtype=object), **arrays)


@pytest.mark.parametrize("how", ["pickle", "torch.save"])
def test_pickle_in_place_of_the_checkpoint_is_refused(tiny_run, capsys, marker, how):
    path = tiny_run / "checkpoints" / "last.safetensors"
    if how == "pickle":
        path.write_bytes(pickle.dumps(Payload(marker)))
    else:
        torch.save({"model": Payload(marker)}, path)
    code, _, err = cli(capsys, "encode", tiny_run)
    assert_user_error(code, err, "encode", "last.safetensors")
    code, _, err = cli(capsys, "train", *TINY_RUN_FLAGS, "--epochs", "2", "--out", tiny_run, "--resume")
    assert_user_error(code, err, "train", "last.safetensors")
    assert not marker.exists()


@pytest.mark.parametrize("command", [
    ["analyze", "{run}", "--max-points", "20"],
    ["sample", "{run}", "--method", "gaussian", "--n", "2", "--no-figures"],
])
def test_pickle_in_place_of_zpoints_is_refused(tiny_run, capsys, marker, command):
    _pickled_npy(tiny_run / "zpoints" / "train.npy", marker)
    code, _, err = cli(capsys, *[part.format(run=tiny_run) for part in command])
    assert_user_error(code, err, command[0], "train.npy")
    assert not marker.exists()


def test_pickle_in_place_of_ids_and_split_is_refused(tiny_run, capsys, marker):
    from aegen.run import Run

    _pickled_npy(tiny_run / "zpoints" / "train_ids.npy", marker)
    with pytest.raises(aegen.AegenError, match="train_ids.npy"):
        Run.open(tiny_run).zpoint_meta("train")
    split = dict(np.load(tiny_run / "split.npz"))
    _pickled_npz(tiny_run / "split.npz", marker, **split)
    code, _, err = cli(capsys, "encode", tiny_run)
    assert_user_error(code, err, "encode", "split.npz")
    assert not marker.exists()


def test_pickle_in_place_of_a_fitted_sampler_is_refused_and_refitted(tiny_run, capsys, marker):
    args = ["sample", tiny_run, "--method", "gaussian", "--n", "3", "--no-figures"]
    code, _, err = cli(capsys, *args)
    assert code == 0, err
    (folder,) = (tiny_run / "samplers").glob("gaussian-*")
    state = dict(np.load(folder / "state.npz"))
    _pickled_npz(folder / "state.npz", marker, **state)
    with pytest.raises(aegen.AegenError, match="state.npz"):
        load_sampler(folder)
    code, _, err = cli(capsys, *args)  # the cache is unusable: refitted, not trusted
    assert code == 0 and "refitting" in err, err
    assert load_sampler(folder).mean_.shape == (TINY_Z_DIM,)
    assert not marker.exists()


def test_pickle_in_the_preprocessing_cache_is_rebuilt(tmp_path, marker):
    from aegen.data import load_dataset

    first = load_dataset("synthetic:n=24,seed=9", 32, progress=False)
    cache = Path(first.info["cache"])
    arrays = dict(np.load(cache / "annotations.npz"))
    _pickled_npz(cache / "annotations.npz", marker, **arrays)
    again = load_dataset("synthetic:n=24,seed=9", 32, progress=False)
    np.testing.assert_array_equal(again.annotations.attrs, first.annotations.attrs)
    assert not marker.exists()


def test_pickle_in_the_feature_cache_is_recomputed(tmp_path, marker):
    from aegen.evaluate.features.cache import FeatureCache

    cache = FeatureCache(tmp_path / "features")
    key = {"kind": "pixels", "split": "heldout", "n": 3}
    cache.get_or_compute(key, lambda: np.zeros((3, 2), dtype=np.float32))
    _pickled_npy(cache.paths(key)[0], marker)
    result = cache.get_or_compute(key, lambda: np.ones((3, 2), dtype=np.float32))
    np.testing.assert_array_equal(result, np.ones((3, 2), dtype=np.float32))
    assert not marker.exists()


def test_pickled_zip_member_in_a_checkpoint_is_refused(tiny_run, capsys, marker):
    # A torch zip checkpoint renamed to .safetensors, with the payload inside its data.pkl.
    path = tiny_run / "checkpoints" / "last.safetensors"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps(Payload(marker)))
    code, _, err = cli(capsys, "encode", tiny_run)
    assert_user_error(code, err, "encode", "last.safetensors")
    assert not marker.exists()


# -- the source never calls an unpickling loader ----------------------------------------------
UNPICKLING = {("pickle", "load"), ("pickle", "loads"), ("pickle", "Unpickler"), ("torch", "load"),
              ("joblib", "load"), ("dill", "load"), ("dill", "loads"), ("cloudpickle", "load"),
              ("cloudpickle", "loads"), ("marshal", "loads"), ("shelve", "open")}
# The FID Inception network is TorchScript; its file's SHA-1 is checked before it is loaded.
ALLOWED = {("evaluate/features/backends.py", "torch.jit.load")}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else "?"


def _unsafe_calls(source: str, rel: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
            if any(n and n.split(".")[0] in ("pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal")
                   for n in names):
                found.append(f"{rel}:{node.lineno}: imports {names}")
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        parts = tuple(name.split("."))
        keywords = {k.arg: k.value for k in node.keywords}
        if (rel, name) in ALLOWED:
            continue
        if parts[-2:] in UNPICKLING or name == "torch.jit.load":
            weights_only = keywords.get("weights_only")
            if not (name == "torch.load" and isinstance(weights_only, ast.Constant) and weights_only.value is True):
                found.append(f"{rel}:{node.lineno}: {name}")
        if name in ("np.load", "numpy.load"):
            allow = keywords.get("allow_pickle")
            if not (isinstance(allow, ast.Constant) and allow.value is False):
                found.append(f"{rel}:{node.lineno}: {name} without allow_pickle=False")
    return found


def test_source_never_calls_an_unpickling_loader():
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        found += _unsafe_calls(path.read_text(encoding="utf-8"), rel)
    assert found == []


def test_the_static_check_catches_unsafe_loaders():
    bad = "import pickle\nx = pickle.loads(b'')\ny = np.load('a.npy')\nz = torch.load('c.pt')\n"
    good = "y = np.load('a.npy', allow_pickle=False)\nz = torch.load('c.pt', weights_only=True)\n"
    assert len(_unsafe_calls(bad, "x.py")) == 4
    assert _unsafe_calls(good, "x.py") == []
