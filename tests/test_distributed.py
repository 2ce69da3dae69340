"""Training (plain and adversarial) and encoding under ``torchrun`` with 2 CPU processes (gloo) against one process.

One ``torchrun`` launch runs this file as its script (see ``_worker``): it trains a run for
one epoch, resumes it to two, encodes it, and trains a second run with batch norm, while an
audit hook records every file each rank creates, renames or deletes. The test then trains
the same runs in one process and compares.

Why the tolerances hold:

- Without batch norm the two-process step is the one-process step: every global batch is
  split between the ranks, each rank's mean loss is weighted by its share of the batch, and
  DistributedDataParallel averages the gradients, which gives the gradient of the mean over
  the whole batch (also for the final, unequally split batch). Only the order of float
  additions differs, so the weights agree to float32 rounding amplified by a few Adam steps.
- With batch norm each rank normalises with the statistics of its own half of the batch,
  which changes the gradients slightly; the held-out reconstruction error stays close.
- Encoding runs the model in eval mode, where a z-point depends on its own image only.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import aegen

SRC = Path(aegen.__file__).resolve().parents[1]
TINY = ["--image-size", "32", "--z-dim", "16", "--channels", "8,8,16,16", "--batch-size", "8"]
# 86 images: 9 held out at random, 77 to train, so each epoch ends with a batch of 5 rows that
# the two ranks split 3 + 2: the loss weighting must make that step match one process too.
DATA = "synthetic:n=86,seed=3"
# The adversarial term from the second epoch: its discriminator steps on the whole batch's
# gradients and its adaptive weight comes from the whole batch's, so it matches one process too.
ADVERSARIAL = ["--adversarial", "0.5", "--adversarial-start", "1"]


def _torchrun() -> list[str]:
    exe = shutil.which("torchrun")
    return [exe] if exe else [sys.executable, "-m", "torch.distributed.run"]


def _is_write(event: str, args: tuple) -> tuple[bool, object]:
    if event == "open":
        path, mode, flags = args
        if isinstance(mode, str):
            return any(c in mode for c in "wax+"), path
        return isinstance(flags, int) and bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)), path
    if event == "os.rename":
        return True, args[1]
    if event in ("os.remove", "os.mkdir", "shutil.rmtree", "os.truncate"):
        return True, args[0]
    return False, None


def _worker(runs: str, records: str) -> None:
    """Body of each torchrun process: the CLI commands under test, with every write recorded."""
    rank = int(os.environ["RANK"])
    watched = (os.path.realpath(runs), os.path.realpath(os.environ["AEGEN_CACHE_DIR"]))
    writes: list[str] = []

    def audit(event, args):
        is_write, path = _is_write(event, args)
        if is_write and isinstance(path, (str, bytes, os.PathLike)):
            path = os.path.realpath(os.fsdecode(path))
            if path.startswith(watched):
                writes.append(f"{event} {path}")

    sys.addaudithook(audit)
    from aegen.cli import main

    a, b, c = f"{runs}/plain", f"{runs}/batchnorm", f"{runs}/adversarial"
    codes = [
        main(["train", "--data", DATA, *TINY, "--no-batch-norm", "--epochs", "1", "--out", a]),
        main(["train", "--data", DATA, *TINY, "--no-batch-norm", "--epochs", "2", "--out", a, "--resume"]),
        main(["encode", a, "--batch-size", "16"]),
        main(["train", "--data", DATA, *TINY, "--epochs", "2", "--out", b]),
        main(["train", "--data", DATA, *TINY, "--no-batch-norm", *ADVERSARIAL, "--epochs", "2", "--out", c]),
    ]
    with open(os.path.join(records, f"rank{rank}.json"), "w") as fh:
        json.dump({"codes": codes, "writes": writes}, fh)


def _weights(run_dir: Path, prefixes: tuple[str, ...] = ("model/",)) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return {k: v for k, v in load_file(str(run_dir / "checkpoints" / "last.safetensors")).items()
            if k.startswith(prefixes)}


def _single_process(out: Path, batch_norm: bool, **options) -> Path:
    from aegen.train import TrainConfig, train

    return train(TrainConfig(data=DATA, out=str(out), image_size=32, z_dim=16, channels=(8, 8, 16, 16),
                             batch_size=8, epochs=2, batch_norm=batch_norm, progress=False, **options))


def _assert_close_to_scale(ddp: dict, one: dict) -> None:
    assert ddp.keys() == one.keys()
    for key in one:
        scale = float(one[key].abs().max()) + 1e-8
        # float32 rounding of reordered sums, amplified by 20 Adam steps: measured below 1e-5
        # of each tensor's scale, while one Adam step moves a weight by up to lr = 1e-3, so a
        # wrongly weighted or missing batch shows up far above this bound.
        torch.testing.assert_close(ddp[key], one[key], rtol=0, atol=1e-4 * scale, msg=key)


@pytest.fixture(scope="module")
def torchrun_result(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    runs, records, cache = root / "runs", root / "records", root / "cache"
    runs.mkdir(), records.mkdir()
    env = dict(os.environ, OMP_NUM_THREADS="1", AEGEN_CACHE_DIR=str(cache),
               PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])))
    env.pop("WORLD_SIZE", None)
    cmd = _torchrun() + ["--standalone", "--nproc_per_node=2", __file__, str(runs), str(records)]
    # A session of its own, so that a timeout ends torchrun and its workers together.
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _, stderr = proc.communicate(timeout=400)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("torchrun did not finish within 400 s")
    assert proc.returncode == 0, stderr[-3000:]
    ranks = [json.loads((records / f"rank{r}.json").read_text()) for r in (0, 1)]
    return runs, ranks, cache


@pytest.mark.slow
def test_torchrun_commands_succeed_and_only_rank0_writes(torchrun_result):
    runs, ranks, _ = torchrun_result
    assert [r["codes"] for r in ranks] == [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]
    # Nothing at all from rank 1: neither in the run folders nor in the preprocessing cache,
    # which rank 0 builds before the other ranks open it.
    assert ranks[1]["writes"] == [], f"rank 1 wrote files: {ranks[1]['writes'][:5]}"
    renamed = {Path(w.split(" ", 1)[1]).relative_to(runs.resolve()).as_posix()
               for w in ranks[0]["writes"] if w.startswith("os.rename") and str(runs.resolve()) in w}
    for name in ("plain/checkpoints/last.safetensors", "plain/config.json", "plain/train_log.csv",
                 "plain/zpoints/train.npy", "plain/zpoints/heldout.npy", "batchnorm/checkpoints/last.safetensors"):
        assert name in renamed
    log = (runs / "plain" / "train_log.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in log] == ["epoch", "1", "2"]


@pytest.mark.slow
def test_torchrun_matches_one_process(torchrun_result, tmp_path, monkeypatch):
    from aegen.encode import encode_run
    from aegen.run import Run

    runs, _, cache = torchrun_result
    # The same cache folder: both sides must read exactly the same preprocessed images.
    monkeypatch.setenv("AEGEN_CACHE_DIR", str(cache))
    single = _single_process(tmp_path / "plain", batch_norm=False)
    _assert_close_to_scale(_weights(runs / "plain"), _weights(single))

    encode_run(Run.open(single), progress=False)
    for split in ("train", "heldout"):
        z_ddp = np.load(runs / "plain" / "zpoints" / f"{split}.npy")
        z_one = np.load(single / "zpoints" / f"{split}.npy")
        assert z_ddp.shape == z_one.shape
        np.testing.assert_allclose(z_ddp, z_one, rtol=0, atol=1e-4 * float(np.abs(z_one).max()))
        ids = np.load(runs / "plain" / "zpoints" / f"{split}_ids.npy")
        np.testing.assert_array_equal(ids, np.load(single / "zpoints" / f"{split}_ids.npy"))

    # Batch norm: per-rank statistics (4 images instead of 8) change the gradients a little;
    # the held-out error after 2 epochs agreed within 0.1% when measured; 5% leaves room for
    # the float rounding of other platforms.
    single_bn = _single_process(tmp_path / "batchnorm", batch_norm=True)
    mse = [float((path / "train_log.csv").read_text().splitlines()[-1].split(",")[2])
           for path in (runs / "batchnorm", single_bn)]
    assert abs(mse[0] - mse[1]) / mse[1] < 0.05, mse


def test_shard_rows_cover_the_batch_and_weights_average_to_the_mean():
    from aegen.distributed import DistContext

    batch = np.arange(5)
    ranks = [DistContext(rank=r, world_size=2) for r in (0, 1)]
    shards = [ctx.shard_rows(batch) for ctx in ranks]
    assert sorted(np.concatenate(shards)) == list(batch)
    values = np.array([0.5, 2.0, 1.0, 4.0, 3.5])
    # What DDP computes: the average over ranks of each rank's weighted mean.
    ddp = np.mean([ctx.loss_weight(len(s), len(batch)) * values[s].mean() for ctx, s in zip(ranks, shards)])
    assert ddp == pytest.approx(values.mean())
    assert DistContext().loss_weight(7, 7) == 1.0
    assert not ranks[0].usable_batch(1) and ranks[0].usable_batch(2) and DistContext().usable_batch(1)


def test_outside_torchrun_everything_is_local(monkeypatch):
    from aegen.distributed import DistContext

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    ctx = DistContext.from_env()
    assert not ctx.active and ctx.is_main
    rows = np.arange(12, dtype=np.float32).reshape(4, 3)
    assert ctx.gather_rows(rows) is rows
    order = []
    with ctx.main_first():
        order.append("block")
    assert order == ["block"]


if __name__ == "__main__":
    _worker(sys.argv[1], sys.argv[2])


@pytest.mark.slow
def test_torchrun_adversarial_training_matches_one_process(torchrun_result, tmp_path, monkeypatch):
    runs, _, cache = torchrun_result
    monkeypatch.setenv("AEGEN_CACHE_DIR", str(cache))
    single = _single_process(tmp_path / "adversarial", batch_norm=False, adversarial=0.5, adversarial_start=1)
    prefixes = ("model/", "critic/model/")
    ddp, one = _weights(runs / "adversarial", prefixes), _weights(single, prefixes)
    assert any(k.startswith("critic/model/") for k in one)
    _assert_close_to_scale(ddp, one)
    logs = [(path / "train_log.csv").read_text().splitlines()[-1].split(",") for path in (runs / "adversarial", single)]
    # The logged critic loss is the whole batch's on both sides.
    assert abs(float(logs[0][-1]) - float(logs[1][-1])) < 1e-4 * abs(float(logs[1][-1])) + 1e-6, logs
