"""The samplable-latent training options: each changes training as specified and nothing else."""

import json

import numpy as np
import pytest
import torch

from aegen import AegenError
from aegen.checkpoint import CHECKPOINT, load_checkpoint
from aegen.cli import main
from aegen.data import load_dataset
from aegen.model import ConvAutoencoder, ModelConfig, to_tensor
from aegen.report.commands import train_command
from aegen.run import Run
from aegen.train import PRESETS, TrainConfig, TrainingObjective, flipped_rows, step_generator, train
from aegen.train_config import SETTINGS_OF_OLDER_RUNS
from conftest import write_celeba_layout

SMALL = dict(image_size=32, z_dim=16, channels=(8, 8, 16, 16))
ALL_OPTIONS = dict(latent_noise=0.5, z_l2=1e-3, decoder_gp=1e-2, flip=True, spectral_norm=True)


def _cfg(data, out, **kw):
    return TrainConfig(data=data, out=str(out), batch_size=8, progress=False, **SMALL, **kw)


@pytest.fixture
def celeba_spec(tmp_path):
    return f"celeba:{write_celeba_layout(tmp_path / 'data', n=40, n_people=8)}"


def _weights(run_dir, **model_kw):
    model = ConvAutoencoder(ModelConfig(**SMALL, **model_kw))
    load_checkpoint(run_dir / CHECKPOINT, model)
    return model.state_dict()


def _objective(**train_kw):
    torch.manual_seed(0)
    model = ConvAutoencoder(ModelConfig(**SMALL))
    return model, TrainingObjective(model, TrainConfig(**SMALL, **train_kw))


def _decoder_input(model, objective, x, generator):
    """The encoder's output and what the decoder received in one objective call."""
    seen = {}
    h1 = model.encoder.register_forward_hook(lambda m, i, o: seen.__setitem__("z", o.detach().clone()))
    h2 = model.decoder.register_forward_pre_hook(lambda m, i: seen.__setitem__("z_in", i[0].detach().clone()))
    loss, mse, _ = objective(x, generator)
    h1.remove(), h2.remove()
    return seen["z"], seen["z_in"], loss, mse


def test_latent_noise_is_scaled_by_the_code_spread_and_reaches_the_decoder_only():
    x = torch.rand(64, 3, 32, 32)
    model, objective = _objective(latent_noise=0.5)
    z, z_in, loss, mse = _decoder_input(model, objective, x, step_generator(0, 0, 0))
    eps = (z_in - z) / z.std(dim=0, keepdim=True)
    # Exactly 0.5 times the normals the step's generator draws, component by component.
    torch.testing.assert_close(eps, 0.5 * torch.randn(z.shape, generator=step_generator(0, 0, 0)), rtol=1e-4, atol=1e-4)
    assert torch.equal(loss, mse)  # no other term
    # Inference (the held-out MSE, encoding, decoding) never sees the noise.
    model.eval()
    torch.testing.assert_close(model(x), model.decode(model.encode(x)), rtol=0, atol=0)
    _, plain = _objective()
    z0, z0_in, _, _ = _decoder_input(plain.model, plain, x, step_generator(0, 0, 0))
    assert torch.equal(z0, z0_in)


def test_the_l2_term_is_in_the_loss():
    x = torch.rand(16, 3, 32, 32)
    model, objective = _objective(z_l2=0.25)
    z, z_in, loss, mse = _decoder_input(model, objective, x, step_generator(0, 0, 0))
    assert torch.equal(z, z_in)
    torch.testing.assert_close(loss, mse + 0.25 * z.pow(2).mean())
    loss.backward()  # and it is differentiated: the encoder's last layer gets the penalty's gradient
    assert model.encoder[-1].weight.grad.abs().sum() > 0


def test_the_gradient_penalty_estimates_the_decoder_jacobian_norm():
    x = torch.rand(4, 3, 32, 32)
    model, objective = _objective(decoder_gp=1.0)
    z, _, loss, mse = _decoder_input(model, objective, x, step_generator(0, 0, 0))
    jac = torch.autograd.functional.jacobian(lambda v: model.decode(v), z[:1])  # (1, 3, 32, 32, 1, 16)
    frob = jac.pow(2).sum().item() / (3 * 32 * 32)
    # One random projection per image: an unbiased but noisy estimate; averaged over many draws
    # it reaches the exact squared Frobenius norm (per pixel value) of image 0's Jacobian.
    gen = step_generator(1, 0, 0)
    estimates = []
    with torch.no_grad():
        recon = model.decode(z[:1])
    for _ in range(400):
        v = torch.randn(recon.shape, generator=gen)
        zz = z[:1].clone().requires_grad_(True)
        (g,) = torch.autograd.grad((model.decode(zz) * v).sum(), zz)
        estimates.append(g.pow(2).sum().item() / recon[0].numel())
    assert abs(np.mean(estimates) - frob) < 0.15 * frob
    assert (loss - mse).item() > 0


def test_flips_mirror_the_training_batch_only(tmp_path, celeba_spec, monkeypatch):
    import aegen.train as train_module

    seen = []
    forward = TrainingObjective.forward

    def recording(self, x, *args):
        seen.append(x.detach().clone())
        return forward(self, x, *args)

    monkeypatch.setattr(TrainingObjective, "forward", recording)
    held_out_inputs = []
    heldout_mse = train_module.heldout_mse
    monkeypatch.setattr(train_module, "heldout_mse", lambda m, images, *a, **k: held_out_inputs.append(images) or heldout_mse(m, images, *a, **k))
    run = train(_cfg(celeba_spec, tmp_path / "run", epochs=1, flip=True))
    dataset = load_dataset(celeba_spec, 32, None, None, progress=False)
    split = np.load(run / "split.npz")
    train_rows = np.sort(split["train_index"])
    batches = torch.cat(seen)
    order = train_rows[np.random.default_rng([0, 0]).permutation(len(train_rows))]
    expected_rows = np.concatenate([np.sort(order[i:i + 8]) for i in range(0, len(order), 8)])
    flips = flipped_rows(0, 0, len(dataset))[expected_rows]
    originals = to_tensor(dataset.images[expected_rows], torch.device("cpu"))
    expected = torch.where(torch.from_numpy(flips)[:, None, None, None], originals.flip(-1), originals)
    assert 0 < flips.sum() < len(flips)
    torch.testing.assert_close(batches, expected, rtol=0, atol=0)
    # The held-out images are measured as they are.
    assert np.array_equal(held_out_inputs[0], dataset.images[np.sort(split["heldout_index"])])
    assert not np.array_equal(flipped_rows(0, 0, 100), flipped_rows(0, 1, 100))


def test_a_resumed_run_with_every_option_ends_bit_identical(tmp_path, celeba_spec):
    full = train(_cfg(celeba_spec, tmp_path / "full", epochs=2, **ALL_OPTIONS))
    train(_cfg(celeba_spec, tmp_path / "part", epochs=1, **ALL_OPTIONS))
    part = train(_cfg(celeba_spec, tmp_path / "part", epochs=2, resume=True, **ALL_OPTIONS))
    a, b = _weights(full, spectral_norm=True), _weights(part, spectral_norm=True)
    assert any("parametrizations" in key for key in a)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    plain = _weights(train(_cfg(celeba_spec, tmp_path / "plain", epochs=2)))
    assert not torch.equal(plain["encoder.0.weight"], a["encoder.0.weight"])
    with pytest.raises(AegenError, match="different latent_noise"):
        train(_cfg(celeba_spec, tmp_path / "part", epochs=3, resume=True, **{**ALL_OPTIONS, "latent_noise": 0.1}))
    with pytest.raises(AegenError, match="different spectral_norm"):
        train(_cfg(celeba_spec, tmp_path / "part", epochs=3, resume=True, **{**ALL_OPTIONS, "spectral_norm": False}))


def test_runs_from_before_the_options_open_and_resume(tmp_path, celeba_spec):
    run = train(_cfg(celeba_spec, tmp_path / "old", epochs=1))
    config = json.loads((run / "config.json").read_text())
    for key in SETTINGS_OF_OLDER_RUNS:  # every option added since (adversarial, adversarial_prior...)
        del config["train"][key]  # as aegen wrote it before these options existed
    del config["model"]["spectral_norm"]
    (run / "config.json").write_text(json.dumps(config))
    opened = Run.open(run)
    assert opened.model_config.spectral_norm is False
    assert opened.load_model().decode(torch.zeros(1, 16)).shape == (1, 3, 32, 32)
    train(_cfg(celeba_spec, tmp_path / "old", epochs=2, resume=True))
    with pytest.raises(AegenError, match="different flip"):
        train(_cfg(celeba_spec, tmp_path / "old", epochs=3, resume=True, flip=True))


def test_a_preset_fills_the_options_left_at_their_defaults_and_is_recorded(tmp_path):
    cfg = TrainConfig(preset="samplable")
    for key, value in PRESETS["samplable"].items():
        assert getattr(cfg, key) == value
    own = TrainConfig(preset="samplable", adversarial=0.25, z_dim=32)
    assert (own.adversarial, own.z_dim, own.upsampling) == (0.25, 32, "nearest")  # what the user sets wins
    assert cfg.settings()["preset"] == "samplable"


@pytest.mark.parametrize("kw, message", [
    (dict(latent_noise=-0.1), "--latent-noise must be a finite number >= 0"),
    (dict(z_l2=float("nan")), "--z-l2 must be a finite number >= 0"),
    (dict(decoder_gp=-1), "--decoder-gp must be a finite number >= 0"),
    (dict(preset="blurry"), "unknown preset 'blurry': choose from samplable, sharp"),
])
def test_bad_option_values_are_refused_in_one_line(kw, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        TrainConfig(**kw)


def test_the_cli_records_every_option_and_the_report_reproduces_it(tmp_path, celeba_spec, capsys):
    out = tmp_path / "run"
    args = ["--data", celeba_spec, "--out", str(out), "--epochs", "1", "--batch-size", "8", "--image-size", "32",
            "--z-dim", "16", "--channels", "8,8,16,16", "--latent-noise", "0.5", "--z-l2", "0.001",
            "--decoder-gp", "0.01", "--spectral-norm", "--flip", "--lr-schedule", "cosine"]
    # In process: `python -m aegen` runs this same main (tests/test_reliability.py starts it as a program).
    assert main(["train", *args]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["spectral_norm"] is True
    assert {k: config["train"][k] for k in ("latent_noise", "z_l2", "decoder_gp", "flip", "lr_schedule")} == \
        {"latent_noise": 0.5, "z_l2": 0.001, "decoder_gp": 0.01, "flip": True, "lr_schedule": "cosine"}
    cmd = train_command("RUN", config)
    for flag in ("--latent-noise", "--z-l2", "--decoder-gp", "--spectral-norm", "--flip", "--lr-schedule"):
        assert flag in cmd
    capsys.readouterr()
    assert main(["train", *args[:4], "--latent-noise", "-1"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--latent-noise must be a finite number >= 0" in err
