import csv

import numpy as np
import pytest
import torch

from aegen import AegenError
from aegen.checkpoint import CHECKPOINT, load_checkpoint, read_checkpoint, save_checkpoint
from aegen.model import ConvAutoencoder, ModelConfig, to_images, to_tensor
from aegen.run import Run
from aegen.train import TrainConfig, train
from conftest import TINY_N_IMAGES, TINY_Z_DIM, write_celeba_layout

SMALL = dict(image_size=32, z_dim=16, channels=(8, 8, 16, 16))


@pytest.mark.parametrize("size", [64, 96, 128])
def test_model_shapes(size):
    model = ConvAutoencoder(ModelConfig(image_size=size))
    x = torch.rand(2, 3, size, size)
    z = model.encode(x)
    assert z.shape == (2, 256)
    y = model.decode(z)
    assert y.shape == x.shape and float(y.min()) >= 0.0 and float(y.max()) <= 1.0
    convs = [m for m in model.encoder if isinstance(m, torch.nn.Conv2d)]
    deconvs = [m for m in model.decoder if isinstance(m, torch.nn.ConvTranspose2d)]
    assert len(convs) == 4 and len(deconvs) == 4 and all(c.stride == (2, 2) for c in convs)


@pytest.mark.parametrize("kernel", [3, 4, 5])
def test_kernel_sizes_keep_shapes(kernel):
    model = ConvAutoencoder(ModelConfig(image_size=64, z_dim=32, kernel_size=kernel, batch_norm=False, activation="relu"))
    assert model(torch.rand(1, 3, 64, 64)).shape == (1, 3, 64, 64)


@pytest.mark.parametrize("kernel", [3, 4, 5])
def test_the_resize_convolution_decoder_upsamples_then_convolves_with_same_padding(kernel):
    """upsampling="nearest": each stage is nearest x2 then a stride-1 convolution that keeps the
    size; the same parameters as the transposed decoder, and no transposed convolution left."""
    cfg = dict(image_size=64, z_dim=32, kernel_size=kernel)
    model = ConvAutoencoder(ModelConfig(**cfg, upsampling="nearest"))
    assert model(torch.rand(2, 3, 64, 64)).shape == (2, 3, 64, 64)
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in model.decoder.modules())
    stages = [m for m in model.decoder if isinstance(m, torch.nn.Sequential)]
    assert len(stages) == 4 and all(isinstance(s[0], torch.nn.Upsample) and s[2].stride == (1, 1) for s in stages)
    x = torch.rand(1, stages[0][2].in_channels, 4, 4)
    assert stages[0](x).shape[-2:] == (8, 8)
    # A constant input away from the border gives a constant output: no checkerboard by construction.
    flat = stages[1](torch.ones(1, stages[1][2].in_channels, 8, 8))[..., kernel:-kernel, kernel:-kernel]
    assert torch.allclose(flat, flat[..., :1, :1].expand_as(flat), atol=1e-6)
    transposed = ConvAutoencoder(ModelConfig(**cfg))
    assert (sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in transposed.parameters()))


def test_bad_model_config():
    with pytest.raises(ValueError, match="upsampling must be one of transposed, nearest"):
        ModelConfig(upsampling="bilinear")
    with pytest.raises(ValueError, match="divisible"):
        ModelConfig(image_size=60)
    with pytest.raises(ValueError, match="4 widths"):
        ModelConfig(channels=(8, 8))


def test_images_and_tensors_convert_both_ways():
    images = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    x = to_tensor(images, torch.device("cpu"))
    assert x.shape == (2, 3, 8, 8) and float(x.max()) <= 1.0
    np.testing.assert_array_equal(to_images(x), images)


def test_train_config_holds_one_model_config():
    cfg = TrainConfig(z_dim=8, channels=[4, 4, 8, 8])
    assert cfg.model == ModelConfig(z_dim=8, channels=(4, 4, 8, 8)) and cfg.z_dim == 8
    assert TrainConfig(model=ModelConfig(z_dim=8)).model == TrainConfig(z_dim=8).model
    assert "z_dim" not in cfg.settings() and cfg.heldout_fraction == 0.1 and cfg.heldout_size is None
    with pytest.raises(ValueError, match="exclude each other"):
        TrainConfig(heldout_fraction=0.2, heldout_size=10)
    with pytest.raises(ValueError, match="4 widths"):
        TrainConfig(channels=(8, 8))


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model = ConvAutoencoder(ModelConfig(**SMALL))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(4, 3, 32, 32)
    torch.nn.functional.mse_loss(model(x), x).backward()
    opt.step()
    save_checkpoint(tmp_path / "c.safetensors", model, opt, epoch=3)
    model2 = ConvAutoencoder(ModelConfig(**SMALL))
    opt2 = torch.optim.Adam(model2.parameters(), lr=1e-3)
    assert load_checkpoint(tmp_path / "c.safetensors", model2, opt2) == 3
    for a, b in zip(model.state_dict().values(), model2.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    s1, s2 = opt.state_dict()["state"], opt2.state_dict()["state"]
    torch.testing.assert_close(s1[0]["exp_avg_sq"], s2[0]["exp_avg_sq"], rtol=0, atol=0)


def test_checkpoint_of_other_z_dim_is_refused(tmp_path):
    save_checkpoint(tmp_path / "c.safetensors", ConvAutoencoder(ModelConfig(**SMALL)), None, epoch=1)
    other = ConvAutoencoder(ModelConfig(**{**SMALL, "z_dim": 32}))
    with pytest.raises(AegenError, match="another z_dim"):
        load_checkpoint(tmp_path / "c.safetensors", other)


def test_truncated_checkpoint_is_named(tmp_path):
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, ConvAutoencoder(ModelConfig(**SMALL)), None, epoch=1)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(AegenError, match="corrupt or truncated checkpoint"):
        read_checkpoint(path)


def _cfg(data, out, **kw):
    return TrainConfig(data=data, out=str(out), batch_size=8, progress=False, **SMALL, **kw)


def _weights(run_dir):
    model = ConvAutoencoder(ModelConfig(**SMALL))
    load_checkpoint(run_dir / CHECKPOINT, model)
    return model.state_dict()


@pytest.fixture
def celeba_spec(tmp_path):
    return f"celeba:{write_celeba_layout(tmp_path / 'data', n=40, n_people=8)}"


def test_resume_equals_uninterrupted(tmp_path, celeba_spec):
    full = train(_cfg(celeba_spec, tmp_path / "full", epochs=3))
    part = train(_cfg(celeba_spec, tmp_path / "part", epochs=1))
    train(_cfg(celeba_spec, tmp_path / "part", epochs=3, resume=True))
    a, b = _weights(full), _weights(part)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    log = (tmp_path / "part" / "train_log.csv").read_text().splitlines()
    assert len(log) == 4 and log[-1].startswith("3,")


def test_cosine_schedule_resumes_exactly_and_ends_near_zero(tmp_path, celeba_spec, monkeypatch):
    import aegen.train as train_module
    from aegen.train import learning_rate

    full = train(_cfg(celeba_spec, tmp_path / "full", epochs=3, lr_schedule="cosine"))
    # A 3-epoch run killed after its first epoch's checkpoint, then resumed: the schedule
    # depends only on the step and the epoch count, so the resumed run replays it.
    save_grid = train_module._save_recon_grid

    def killed_after_first_epoch(*args, **kwargs):
        save_grid(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "_save_recon_grid", killed_after_first_epoch)
    part_cfg = _cfg(celeba_spec, tmp_path / "part", epochs=3, lr_schedule="cosine")
    with pytest.raises(KeyboardInterrupt):
        train(part_cfg)
    monkeypatch.setattr(train_module, "_save_recon_grid", save_grid)
    part = train(_cfg(celeba_spec, tmp_path / "part", epochs=3, lr_schedule="cosine", resume=True))
    a, b = _weights(full), _weights(part)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    with pytest.raises(AegenError, match="different lr_schedule"):
        train(_cfg(celeba_spec, tmp_path / "part", epochs=4, resume=True))
    lrs = [float(row["lr"]) for row in csv.DictReader(open(tmp_path / "full" / "train_log.csv"))]
    assert lrs[0] > lrs[1] > lrs[2] > 0 and lrs[2] < 0.1 * part_cfg.lr
    assert learning_rate(part_cfg, 0, 10) == part_cfg.lr and learning_rate(part_cfg, 30, 10) == 0
    assert learning_rate(_cfg(celeba_spec, tmp_path / "c"), 29, 10) == part_cfg.lr
    with pytest.raises(ValueError, match="lr_schedule"):
        _cfg(celeba_spec, tmp_path / "d", lr_schedule="step")


def test_runs_without_a_recorded_schedule_resume_as_constant(tmp_path, celeba_spec):
    import json

    run = train(_cfg(celeba_spec, tmp_path / "old", epochs=1))
    config = json.loads((run / "config.json").read_text())
    del config["train"]["lr_schedule"]  # as aegen wrote it before the schedule existed
    (run / "config.json").write_text(json.dumps(config))
    train(_cfg(celeba_spec, tmp_path / "old", epochs=2, resume=True))
    with pytest.raises(AegenError, match="different lr_schedule"):
        train(_cfg(celeba_spec, tmp_path / "old", epochs=3, resume=True, lr_schedule="cosine"))


def test_same_seed_same_weights_and_resume_guards(tmp_path, celeba_spec):
    a = train(_cfg(celeba_spec, tmp_path / "a", epochs=1))
    b = train(_cfg(celeba_spec, tmp_path / "b", epochs=1))
    for key, value in _weights(a).items():
        torch.testing.assert_close(value, _weights(b)[key], rtol=0, atol=0)
    with pytest.raises(AegenError, match="already holds a trained run"):
        train(_cfg(celeba_spec, tmp_path / "a", epochs=2))
    with pytest.raises(AegenError, match="different lr"):
        train(_cfg(celeba_spec, tmp_path / "a", epochs=2, resume=True, lr=0.01))
    with pytest.raises(AegenError, match="different heldout_fraction"):
        train(_cfg(celeba_spec, tmp_path / "a", epochs=2, resume=True, heldout_fraction=None, heldout_size=5))


def test_run_api_encode_decode(tiny_run):
    from aegen.encode import encode_run

    run = Run.open(tiny_run)
    encode_run(run, progress=False)
    Z = run.zpoints("train")
    meta = run.zpoint_meta("train")
    assert Z.shape == (len(run.images("train")), TINY_Z_DIM) and Z.dtype == np.float32
    assert len(meta["ids"]) == len(Z) and meta["attrs"].shape == (len(Z), len(meta["attr_names"]))
    assert len(run.zpoints("heldout")) + len(Z) == TINY_N_IMAGES
    # The z-point of an image is the encoder's output for that very image.
    np.testing.assert_allclose(run.encode_images(run.images("train")[:3], progress=False), Z[:3], atol=1e-5)
    imgs = run.decode(Z[:5], progress=False)
    assert imgs.shape == (5, 32, 32, 3) and imgs.dtype == np.uint8
    with pytest.raises(AegenError, match="shape"):
        run.decode(np.zeros((2, 7)))
    with pytest.raises(AegenError, match="NaN"):
        run.decode(np.full((2, TINY_Z_DIM), np.nan))


def test_run_open_errors(tmp_path):
    with pytest.raises(AegenError, match="no such run folder"):
        Run.open(tmp_path / "nope")
    (tmp_path / "r").mkdir()
    with pytest.raises(AegenError, match="not an aegen run"):
        Run.open(tmp_path / "r")
    (tmp_path / "r" / "config.json").write_text('{"format_version": 999}')
    with pytest.raises(AegenError, match="incompatible"):
        Run.open(tmp_path / "r")
