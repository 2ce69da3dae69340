"""Faults: a training process killed mid-epoch, a full disk, a read-only run folder, and
truncated or corrupt files left on disk. Each ends in an exact resume, a one-line error that
leaves the previous files intact, or a rebuilt cache, never a traceback.

The helpers at the top (in-process CLI calls, the one-line error check) are shared with
test_bad_input.py and test_security.py; the tiny run is conftest.py's.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import aegen
from aegen import AegenError
from aegen.checkpoint import read_checkpoint
from aegen.cli import main
from aegen.checkpoint import CHECKPOINT
from aegen.train import TrainConfig, train
from conftest import TINY, TINY_DATA, TINY_FLAGS, TINY_RUN_FLAGS

SRC = Path(aegen.__file__).resolve().parents[1]


# -- helpers shared with the other fault and input tests ---------------------------------
def cli(capsys, *argv: str) -> tuple[int, str, str]:
    """Run ``aegen ARGV`` in this process; returns (exit code, stdout, stderr)."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(code: int, err: str, command: str, *fragments: str) -> str:
    """Exit code 2, no traceback, and exactly one error line naming ``fragments``; returns it."""
    assert code == 2, err
    assert "Traceback" not in err, err
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.startswith("aegen ")]
    assert len(lines) == 1 and lines[0].startswith(f"aegen {command}: error: "), err
    assert err.rstrip().endswith(lines[0]), err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def checkpoint_epoch(run_dir: Path) -> int:
    return int(read_checkpoint(run_dir / CHECKPOINT)[1]["epoch"])


def leftover_temporaries(folder: Path) -> list[Path]:
    """Temporary files of aegen.io.atomic_path (``.NAME.XXXX.tmpSUFFIX``) left under ``folder``."""
    return [p for p in folder.rglob(".*") if ".tmp" in p.name]


# -- a training process killed with SIGKILL mid-epoch -----------------------------------
class _StderrWatcher:
    """Collects a subprocess's stderr in a thread so the test can wait for a pattern in it."""

    def __init__(self, stream):
        self.text = ""
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream):
        for chunk in iter(lambda: os.read(stream.fileno(), 4096), b""):
            with self._lock:
                self.text += chunk.decode("utf-8", "replace")

    def wait_for(self, pattern: str, proc: subprocess.Popen, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            with self._lock:
                if re.search(pattern, self.text):
                    return True
            time.sleep(0.02)
        return False


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(tmp_path, capsys):
    # 400 images: 360 to train, 45 batches an epoch, so epoch 2 lasts long enough to be hit.
    data, epochs, flags = "synthetic:n=400,seed=2", 3, [*TINY_FLAGS[:-1], "8"]  # batch 8
    killed = tmp_path / "killed"
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])))
    cmd = [sys.executable, "-m", "aegen", "train", "--data", data, *flags, "--epochs", str(epochs),
           "--out", str(killed)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    watcher = _StderrWatcher(proc.stderr)
    try:
        # The progress bar of epoch 2 with at least one batch done: the kill lands mid-epoch.
        under_way = watcher.wait_for(r"epoch 2/3:\s*\d+%\|[^|]*\|\s*[1-9]\d*/45", proc, timeout=240)
        assert under_way, f"epoch 2 never started (exit {proc.poll()}): {watcher.text[-2000:]}"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert checkpoint_epoch(killed) == 1  # epoch 2 never finished
    assert len((killed / "train_log.csv").read_text().splitlines()) == 2

    code, _, err = cli(capsys, "train", "--data", data, *flags, "--epochs", str(epochs), "--out", killed, "--resume")
    assert code == 0, err
    full = train(TrainConfig(data=data, out=str(tmp_path / "full"), epochs=epochs, progress=False,
                             **{**TINY, "batch_size": 8}))

    resumed, uninterrupted = read_checkpoint(killed / CHECKPOINT)[0], read_checkpoint(full / CHECKPOINT)[0]
    assert resumed.keys() == uninterrupted.keys()
    for key, value in uninterrupted.items():  # weights and Adam moments, bit for bit
        assert torch.equal(resumed[key], value), key
    assert checkpoint_epoch(killed) == epochs
    log = (killed / "train_log.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in log] == ["epoch", "1", "2", "3"]
    assert leftover_temporaries(killed) == []


# -- a full disk and a read-only folder -------------------------------------------------
def test_disk_full_while_checkpointing_keeps_the_previous_checkpoint(tiny_run, capsys, monkeypatch):
    from safetensors import SafetensorError

    before = (tiny_run / CHECKPOINT).read_bytes()

    def full_disk(tensors, filename, metadata=None):
        # What safetensors does on a full disk: part of the file, then its own error type.
        Path(filename).write_bytes(b"\0" * 100)
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    with monkeypatch.context() as disk:
        disk.setattr("safetensors.torch.save_file", full_disk)
        code, _, err = cli(capsys, "train", *TINY_RUN_FLAGS, "--epochs", "2", "--out", tiny_run,
                           "--resume")
    assert_user_error(code, err, "train", "No space left on device", "last.safetensors")
    assert (tiny_run / CHECKPOINT).read_bytes() == before
    assert leftover_temporaries(tiny_run) == []
    code, _, err = cli(capsys, "train", *TINY_RUN_FLAGS, "--epochs", "2", "--out", tiny_run, "--resume")
    assert code == 0, err  # with space again, the same command continues the run
    assert checkpoint_epoch(tiny_run) == 2


def test_read_only_run_folder_is_one_line_and_keeps_every_file(tiny_run, capsys, monkeypatch):
    shutil.rmtree(tiny_run / "zpoints")  # encode must create its folder, not only replace files
    before = {p: p.read_bytes() for p in tiny_run.rglob("*") if p.is_file()}
    real_replace, real_mkdir = os.replace, os.mkdir

    def refuse(path):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    # Tests run as root, which ignores file permissions: refuse like a read-only mount.
    def replace(src, dst, *args, **kwargs):
        return refuse(dst) if str(tiny_run) in str(dst) else real_replace(src, dst, *args, **kwargs)

    def mkdir(path, *args, **kwargs):
        return refuse(path) if str(tiny_run) in str(path) else real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "mkdir", mkdir)
    code, _, err = cli(capsys, "train", *TINY_RUN_FLAGS, "--epochs", "2", "--out", tiny_run, "--resume")
    assert_user_error(code, err, "train", "Read-only file system", str(tiny_run))
    code, _, err = cli(capsys, "encode", tiny_run)  # zpoints/ cannot be created
    assert_user_error(code, err, "encode", "Read-only file system", "zpoints")
    real_mkdir(tiny_run / "zpoints")
    code, _, err = cli(capsys, "encode", tiny_run)  # the encoded file cannot be renamed into place
    assert_user_error(code, err, "encode", "Read-only file system", "train.npy")
    after = {p: p.read_bytes() for p in tiny_run.rglob("*") if p.is_file()}
    assert after == before
    assert leftover_temporaries(tiny_run) == []


def test_read_only_run_folder_for_analysis_and_sampling(tiny_run, capsys, monkeypatch):
    real_mkdir = os.mkdir

    def mkdir(path, *args, **kwargs):
        if str(tiny_run) in str(path):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)
    code, _, err = cli(capsys, "analyze", tiny_run, "--max-points", "20")
    assert_user_error(code, err, "analyze", "Read-only file system", "analysis")
    code, _, err = cli(capsys, "sample", tiny_run, "--method", "gaussian", "--n", "4", "--no-figures")
    assert_user_error(code, err, "sample", "Read-only file system", "samplers")


def _no_space(fd, offset, length):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


# A memory-mapped output on a full disk would die with SIGBUS at its first write into a page
# the disk cannot back; the writers reserve the file's blocks first (posix_fallocate), so a
# full disk is an OSError before any write.
def test_disk_full_while_encoding_is_an_error_not_a_crash(tiny_run, capsys, monkeypatch):
    from aegen.run import Run

    Run.open(tiny_run).dataset  # the preprocessing cache is in place before the disk fills
    before = (tiny_run / "zpoints" / "train.npy").read_bytes()
    monkeypatch.setattr(os, "posix_fallocate", _no_space, raising=False)
    code, _, err = cli(capsys, "encode", tiny_run)
    assert_user_error(code, err, "encode", "No space left on device", "train.npy")
    assert (tiny_run / "zpoints" / "train.npy").read_bytes() == before
    assert leftover_temporaries(tiny_run) == []


def test_disk_full_while_building_the_cache_is_an_error_not_a_crash(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(os, "posix_fallocate", _no_space, raising=False)
    code, _, err = cli(capsys, "train", "--data", "synthetic:n=40,seed=5", *TINY_FLAGS, "--out", tmp_path / "run")
    assert_user_error(code, err, "train", "No space left on device", "images.npy")
    assert leftover_temporaries(Path(os.environ["AEGEN_CACHE_DIR"])) == []


# -- truncated or corrupt files ---------------------------------------------------------
def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])


@pytest.mark.parametrize("damaged, command, fragments", [
    ("zpoints/train.npy", ["analyze", "{run}", "--max-points", "20"], ["train.npy", "truncated"]),
    ("zpoints/train.npy", ["sample", "{run}", "--method", "gaussian", "--n", "4", "--no-figures"], ["train.npy"]),
    ("checkpoints/last.safetensors", ["encode", "{run}"], ["last.safetensors", "truncated"]),
    ("split.npz", ["encode", "{run}"], ["split.npz", "corrupt"]),
    ("config.json", ["encode", "{run}"], ["config.json", "corrupt"]),
])
def test_truncated_artifact_is_named_in_one_line(tiny_run, capsys, damaged, command, fragments):
    _truncate(tiny_run / damaged)
    code, _, err = cli(capsys, *[part.format(run=tiny_run) for part in command])
    assert_user_error(code, err, command[0], *fragments)


def test_truncated_preprocessing_cache_is_rebuilt(tmp_path):
    from aegen.data import load_dataset

    first = load_dataset(TINY_DATA, 32, progress=False)
    cache = Path(first.info["cache"])
    expected = np.array(first.images)
    for damaged in ("images.npy", "annotations.npz"):
        _truncate(cache / damaged, keep=0.3)
        again = load_dataset(TINY_DATA, 32, progress=False)
        np.testing.assert_array_equal(again.images, expected)
        assert (cache / damaged).stat().st_size > 0 and leftover_temporaries(cache) == []


def test_truncated_sampler_cache_is_refitted(tiny_run, capsys):
    args = ["sample", tiny_run, "--method", "gaussian", "--n", "4", "--no-figures"]
    code, _, err = cli(capsys, *args)
    assert code == 0, err
    first = np.load(tiny_run / "samples" / "gaussian" / "z.npy")
    (state,) = (tiny_run / "samplers").glob("gaussian-*/state.npz")
    _truncate(state)
    code, _, err = cli(capsys, *args)
    assert code == 0, err
    assert "refitting" in err and "Traceback" not in err
    np.testing.assert_array_equal(np.load(tiny_run / "samples" / "gaussian" / "z.npy"), first)


def test_truncated_feature_cache_entry_is_recomputed(tmp_path):
    from aegen.evaluate.features.cache import FeatureCache

    cache = FeatureCache(tmp_path / "features")
    key = {"kind": "pixels", "split": "heldout", "n": 5}
    calls = []

    def compute():
        calls.append(1)
        return np.arange(40, dtype=np.float32).reshape(5, 8)

    cache.get_or_compute(key, compute)
    array_path, key_path = cache.paths(key)
    _truncate(array_path)
    np.testing.assert_array_equal(cache.get_or_compute(key, compute), compute())
    key_path.write_text("{ not json")
    np.testing.assert_array_equal(cache.get_or_compute(key, compute), compute())
    assert len(calls) == 5  # 3 computations for the cache, 2 for the comparisons


def test_interrupted_write_leaves_no_file_a_later_step_trusts(tmp_path):
    from aegen.io import atomic_path, load_npy, save_npy

    target = tmp_path / "z.npy"
    save_npy(target, np.ones((4, 3), dtype=np.float32))

    class Crash(Exception):
        pass

    with pytest.raises(Crash):
        with atomic_path(target) as tmp:
            np.save(tmp, np.zeros((400, 3), dtype=np.float32))
            raise Crash  # the process dies half-way: the old file stays, no temporary remains
    np.testing.assert_array_equal(load_npy(target), np.ones((4, 3), dtype=np.float32))
    assert leftover_temporaries(tmp_path) == []
    with pytest.raises(AegenError, match="z.npy"):
        _truncate(target)
        load_npy(target)


def test_only_durable_writes_flush_to_disk_and_both_replace_the_file_whole(tmp_path, monkeypatch):
    from aegen import io as aegen_io
    from aegen.plots import save_image

    flushed = []
    real_fsync = os.fsync
    monkeypatch.setattr(aegen_io.os, "fsync", lambda fd: flushed.append(fd) or real_fsync(fd))
    aegen_io.write_bytes(tmp_path / "metrics.json", b"{}")
    assert len(flushed) == 1
    aegen_io.write_bytes(tmp_path / "figure.png", b"old")
    save_image(tmp_path / "figure.png", np.zeros((4, 4, 3), dtype=np.uint8))  # a picture: no flush
    assert len(flushed) == 2 and (tmp_path / "figure.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(RuntimeError), aegen_io.atomic_path(tmp_path / "figure.png", durable=False) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("killed while writing")
    assert (tmp_path / "figure.png").read_bytes()[:4] == b"\x89PNG" and sorted(os.listdir(tmp_path)) == [
        "figure.png", "metrics.json"]
