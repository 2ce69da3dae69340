"""``aegen train --adversarial`` and ``--adversarial-prior``: a patch discriminator beside the autoencoder, resumable, off by default."""

import csv
import json

import pytest
import torch

from aegen import AegenError
from aegen.adversarial import Critic, PatchDiscriminator, critic_hinge_loss, last_decoder_weight
from aegen.checkpoint import CHECKPOINT, load_checkpoint, read_checkpoint, save_checkpoint
from aegen.cli import main
from aegen.distributed import DistContext
from aegen.model import ConvAutoencoder, ModelConfig
from aegen.report.commands import train_command
from aegen.train import TrainConfig, TrainingObjective, batch_gaussian_draws, step_generator, train
from conftest import write_celeba_layout

SMALL = dict(image_size=32, z_dim=16, channels=(8, 8, 16, 16))


def _cfg(data, out, **kw):
    return TrainConfig(data=data, out=str(out), batch_size=8, progress=False, **SMALL, **kw)


@pytest.fixture
def celeba_spec(tmp_path):
    return f"celeba:{write_celeba_layout(tmp_path / 'data', n=40, n_people=8)}"


def test_the_discriminator_scores_patches_and_its_hinge_loss_is_two_at_chance():
    disc = PatchDiscriminator((8, 16, 32))
    logits = disc(torch.rand(5, 3, 32, 32))
    assert logits.shape == (5, 1, 4, 4)
    zero = torch.zeros(3, 1, 4, 4)
    assert critic_hinge_loss(zero, zero).item() == 2.0
    # Confident and right costs nothing; confident and wrong costs the margin plus the error.
    assert critic_hinge_loss(zero + 1, zero - 1).item() == 0.0
    assert critic_hinge_loss(zero - 1, zero + 1).item() == 4.0


def test_the_adversarial_term_is_scaled_to_the_squared_errors_gradient_at_the_last_layer():
    torch.manual_seed(0)
    model = ConvAutoencoder(ModelConfig(**SMALL))
    critic = Critic(model, lr=1e-3)
    x = torch.rand(8, 3, 32, 32)
    objective = TrainingObjective(model, TrainConfig(**SMALL, adversarial=0.5))
    loss, mse, recon = objective(x, step_generator(0, 0, 0), critic)
    # Recompute by hand: the decoder's hinge loss, and the ratio of gradient norms at the last layer.
    fooled = -critic.discriminator(recon).mean()
    weight = last_decoder_weight(model)
    (g_rec,) = torch.autograd.grad(mse, weight, retain_graph=True)
    (g_adv,) = torch.autograd.grad(fooled, weight, retain_graph=True)
    scale = g_rec.norm() / (g_adv.norm() + 1e-4)
    assert scale > 0
    # The discriminator's spectral-norm power iteration moved on in the second forward pass: a
    # tolerance, not equality.
    torch.testing.assert_close(loss - mse, 0.5 * scale * fooled, rtol=1e-3, atol=1e-6)
    # The decoder's loss trains the autoencoder only: no gradient is kept for the discriminator.
    loss.backward()
    assert model.decoder[0].weight.grad is not None
    assert all(p.grad is None for p in critic.discriminator.parameters())
    # Without the critic (before --adversarial-start) the loss is the squared error alone.
    plain_loss, plain_mse, _ = objective(x, step_generator(0, 0, 0), None)
    assert torch.equal(plain_loss, plain_mse)


def test_batch_gaussian_draws_have_the_batch_codes_mean_and_covariance():
    z = torch.randn(6, 3, generator=torch.Generator().manual_seed(0)) @ torch.tensor([[2.0, 0.5, 0.0], [0.0, 1.0, 0.3], [0.0, 0.0, 0.2]]) + 4
    generator = torch.Generator().manual_seed(1)
    draws = torch.cat([batch_gaussian_draws(z, generator) for _ in range(3000)])
    assert draws.shape == (18000, 3)
    # Standard errors at 18,000 draws: about 0.015 for the means, 0.03 for the largest covariance.
    torch.testing.assert_close(draws.mean(0), z.mean(0), atol=0.06, rtol=0)
    torch.testing.assert_close(torch.cov(draws.T), torch.cov(z.T), atol=0.1, rtol=0.03)
    # Seeded: the same generator state gives the same draws (a resumed epoch replays them).
    a = batch_gaussian_draws(z, torch.Generator().manual_seed(7))
    assert torch.equal(a, batch_gaussian_draws(z, torch.Generator().manual_seed(7)))
    assert not torch.equal(a, batch_gaussian_draws(z, torch.Generator().manual_seed(8)))


def _grads(model: ConvAutoencoder, loss: torch.Tensor) -> dict[str, torch.Tensor]:
    model.zero_grad(set_to_none=True)
    loss.backward()
    return {name: p.grad.clone() for name, p in model.named_parameters()}


def test_the_prior_term_trains_the_decoder_on_gaussian_draws_and_leaves_the_encoder_alone():
    torch.manual_seed(0)
    model = ConvAutoencoder(ModelConfig(**SMALL))
    critic = Critic(model, lr=1e-3)
    x = torch.rand(8, 3, 32, 32)
    plain = _grads(model, TrainingObjective(model, TrainConfig(**SMALL))(x, step_generator(0, 0, 0), None)[0])
    objective = TrainingObjective(model, TrainConfig(**SMALL, adversarial_prior=0.5))
    loss, mse, fakes = objective(x, step_generator(0, 0, 0), critic)
    # Alone, the critic is shown the decoded draws only; the loss adds the adaptive term on them.
    assert fakes.shape == x.shape and not torch.allclose(fakes, model(x))
    drawn = model.decode(batch_gaussian_draws(model.encode(x).detach(), step_generator(0, 0, 0)))
    torch.testing.assert_close(fakes, drawn)
    fooled = -critic.discriminator(drawn).mean()
    weight = last_decoder_weight(model)
    (g_rec,) = torch.autograd.grad(mse, weight, retain_graph=True)
    (g_adv,) = torch.autograd.grad(fooled, weight, retain_graph=True)
    torch.testing.assert_close(loss - mse, 0.5 * g_rec.norm() / (g_adv.norm() + 1e-4) * fooled, rtol=1e-3, atol=1e-6)
    # The codes are detached for the draws: the encoder's gradient is the squared error's alone.
    prior = _grads(model, loss)
    for name in plain:
        if name.startswith("encoder"):
            torch.testing.assert_close(prior[name], plain[name], rtol=1e-5, atol=1e-8, msg=name)
    assert any(not torch.allclose(prior[n], plain[n]) for n in plain if n.startswith("decoder"))
    # With --adversarial too, the critic sees reconstructions then draws.
    both = TrainingObjective(model, TrainConfig(**SMALL, adversarial=0.5, adversarial_prior=0.5))
    assert both(x, step_generator(0, 0, 0), critic)[2].shape == (16, 3, 32, 32)


def test_the_critic_step_trains_the_discriminator_and_leaves_the_autoencoder_alone():
    torch.manual_seed(0)
    model = ConvAutoencoder(ModelConfig(**SMALL))
    critic = Critic(model, lr=1e-2)
    x = torch.rand(8, 3, 32, 32)
    recon = model(x)  # (a training-mode pass: batch norm's running statistics move here, not in the steps)
    before_ae = {k: v.clone() for k, v in model.state_dict().items()}
    before_d = {k: v.clone() for k, v in critic.discriminator.state_dict().items()}
    losses = [critic.step(x, recon, lr=1e-2) for _ in range(20)]
    assert recon.grad_fn is not None and all(p.grad is None for p in model.parameters())
    assert losses[-1] < losses[0]  # it learns to tell the blurry reconstructions from the images
    assert all(torch.equal(before_ae[k], v) for k, v in model.state_dict().items())
    assert any(not torch.equal(before_d[k], v) for k, v in critic.discriminator.state_dict().items())


def test_a_resumed_adversarial_run_ends_bit_identical_with_its_discriminator(tmp_path, celeba_spec):
    options = dict(adversarial=0.5, adversarial_prior=0.25, adversarial_start=1, flip=True)
    full = train(_cfg(celeba_spec, tmp_path / "full", epochs=3, **options))
    train(_cfg(celeba_spec, tmp_path / "part", epochs=2, **options))
    part = train(_cfg(celeba_spec, tmp_path / "part", epochs=3, resume=True, **options))
    a, _ = read_checkpoint(full / CHECKPOINT)
    b, _ = read_checkpoint(part / CHECKPOINT)
    assert a.keys() == b.keys() and any(k.startswith("critic/model/") for k in a)
    assert any(k.startswith("critic/optim/") for k in a)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    log = list(csv.DictReader(open(full / "train_log.csv")))
    assert log[0]["critic_loss"] == "" and all(0 <= float(r["critic_loss"]) for r in log[1:])
    # The autoencoder of an adversarial run opens like any other; the plain run differs from it.
    model = ConvAutoencoder(ModelConfig(**SMALL))
    assert load_checkpoint(full / CHECKPOINT, model) == 3
    plain, _ = read_checkpoint(train(_cfg(celeba_spec, tmp_path / "plain", epochs=3, flip=True)) / CHECKPOINT)
    assert not any(k.startswith("critic/") for k in plain)
    assert not torch.equal(plain["model/decoder.0.weight"], a["model/decoder.0.weight"])
    with pytest.raises(AegenError, match="different adversarial_start"):
        train(_cfg(celeba_spec, tmp_path / "part", epochs=4, resume=True, adversarial=0.5, adversarial_prior=0.25,
                   flip=True))
    with pytest.raises(AegenError, match="different adversarial_prior"):
        train(_cfg(celeba_spec, tmp_path / "part", epochs=4, resume=True, adversarial=0.5, adversarial_start=1,
                   flip=True))


def test_a_checkpoint_without_a_discriminator_says_so(tmp_path):
    model = ConvAutoencoder(ModelConfig(**SMALL))
    save_checkpoint(tmp_path / "last.safetensors", model, None, 1)
    with pytest.raises(AegenError, match="holds no discriminator"):
        load_checkpoint(tmp_path / "last.safetensors", model, critic=Critic(model, lr=1e-3))


def test_the_prior_term_is_refused_under_torchrun(tmp_path, monkeypatch):
    monkeypatch.setattr(DistContext, "from_env", classmethod(lambda cls: cls(rank=0, world_size=2)))
    with pytest.raises(AegenError, match="--adversarial-prior does not run under torchrun"):
        train(_cfg("synthetic:n=20", tmp_path / "run", epochs=1, adversarial=0.5, adversarial_prior=0.1))
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("kw, message", [
    (dict(adversarial=-0.5), "--adversarial must be a finite number >= 0"),
    (dict(adversarial=float("inf")), "--adversarial must be a finite number >= 0"),
    (dict(adversarial_start=-1), "--adversarial-start must be an epoch >= 0"),
    (dict(adversarial_prior=-0.1), "--adversarial-prior must be a finite number >= 0"),
])
def test_bad_adversarial_values_are_refused_in_one_line(kw, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kw)


def test_the_cli_records_the_adversarial_options_and_the_report_reproduces_them(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--data", "synthetic:n=40", "--out", str(out), "--epochs", "2", "--batch-size", "8", "--image-size", "32",
            "--z-dim", "16", "--channels", "8,8,16,16", "--adversarial", "0.25", "--adversarial-start", "1",
            "--adversarial-prior", "0.5",
            "--cache-dir", str(tmp_path / "cache")]
    assert main(["train", *args]) == 0
    config = json.loads((out / "config.json").read_text())
    assert (config["train"]["adversarial"], config["train"]["adversarial_start"]) == (0.25, 1)
    assert config["train"]["adversarial_prior"] == 0.5
    joined = " ".join(train_command("RUN", config))
    assert "--adversarial 0.25" in joined and "--adversarial-start 1" in joined and "--adversarial-prior 0.5" in joined
    capsys.readouterr()
    assert main(["train", *args[:4], "--adversarial-start", "-2"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_the_adaptive_weight_reads_the_last_convolution_of_a_resize_convolution_decoder():
    from torch import nn

    model = ConvAutoencoder(ModelConfig(**SMALL, upsampling="nearest"))
    last_stage = model.decoder[-2]  # Upsample, ZeroPad2d, Conv2d; then the sigmoid
    assert isinstance(last_stage[-1], nn.Conv2d) and last_decoder_weight(model) is last_stage[-1].weight
    sn = ConvAutoencoder(ModelConfig(**SMALL, upsampling="nearest", spectral_norm=True))
    assert last_decoder_weight(sn) is sn.decoder[-2][-1].parametrizations.weight.original

