"""The run section: data, model, training settings, the training curve and the reconstructions."""

from __future__ import annotations

from pathlib import Path

from aegen.report.assets import Assets
from aegen.report.blocks import Columns, Figure, Section, Text, key_value_table
from aegen.report.sources import dig, num, plain, pngs, read_csv_rows

TRAIN_LOG = "train_log.csv"
RECON_GRID = "recon_grid.png"
# A training-curve figure the run may already hold; otherwise the report draws one.
CURVE_NAMES = ("training_curve.png", "train_curve.png", "loss_curve.png", "train_log.png")


def data_rows(config: dict) -> list[tuple[str, str]]:
    data = config.get("data") or {}
    rows = [("source", f"`{data['spec']}`" if data.get("spec") else "—"),
            ("image size", f"{data['image_size']} px" if data.get("image_size") else "—")]
    for key, text in (("n_images", "images"), ("n_train", "training images"), ("n_heldout", "held-out images"),
                      ("n_skipped", "skipped (unreadable)"), ("limit", "limit"), ("crop", "centre crop"),
                      ("split_policy", "held-out split by"), ("heldout_fraction", "held-out fraction"),
                      ("split_seed", "split seed")):
        if key in data and data[key] is not None:
            rows.append((text, num(data[key]) if not isinstance(data[key], str) else data[key]))
    if data.get("attr_names"):
        rows.append(("attribute labels", num(len(data["attr_names"]))))
    return rows


def model_rows(config: dict) -> list[tuple[str, str]]:
    model = config.get("model") or {}
    channels = model.get("channels")
    return [(text, value) for text, value in (
        ("latent dimension z_dim", num(model.get("z_dim"))),
        ("conv channels (encoder)", " → ".join(str(c) for c in channels) if channels else "—"),
        ("kernel size", num(model.get("kernel_size"))),
        ("batch norm", {True: "yes", False: "no"}.get(model.get("batch_norm"), "—")),
        ("activation", str(model.get("activation", "—"))),
        ("input size", f"{model['image_size']} × {model['image_size']} × 3" if model.get("image_size") else "—"),
    )]


def training_rows(config: dict, log: list[dict] | None) -> list[tuple[str, str]]:
    train = config.get("train") or {}
    rows = [(text, num(train.get(key)) if key != "lr" else num(train.get(key), 2))
            for key, text in (("epochs", "epochs"), ("batch_size", "batch size"), ("lr", "learning rate (Adam)"),
                              ("seed", "seed"))]
    if train.get("lr_schedule"):
        rows.append(("learning-rate schedule", str(train["lr_schedule"])))
    rows += [(f"`{flag}`", plain(value)) for flag, value in samplable_options(config)]
    rows.append(("device", str(config.get("device") or train.get("device") or "—")))
    if log:
        last = log[-1]
        rows += [("final train MSE", num(last.get("train_mse"), 4)),
                 ("final held-out MSE", num(last.get("heldout_mse"), 4))]
        seconds = [r.get("epoch_seconds") for r in log if r.get("epoch_seconds") is not None]
        if seconds:
            rows.append(("training time", duration(sum(seconds))))
        speeds = [r.get("images_per_s") for r in log if r.get("images_per_s") is not None]
        if speeds:
            rows.append(("throughput", f"{num(sum(speeds) / len(speeds))} images/s"))
    return rows


def samplable_options(config: dict) -> list[tuple[str, object]]:
    """The samplable-latent options (``--preset``, ``--flip``, ``--upsampling``, ...) the run was trained
    with, as flags and values; none for the seed's autoencoder or a record this aegen cannot read."""
    from aegen.train_config import TrainConfig, samplable_options_set

    try:
        return samplable_options_set(TrainConfig.from_record(config))
    except (TypeError, ValueError):
        return []


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def plot_training_curve(log: list[dict], config: dict, assets: Assets) -> Path:
    """Train and held-out MSE per epoch (log scale), and the throughput; returns the PNG path."""
    from aegen.plots import use_agg

    use_agg()
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = [r.get("epoch") for r in log]
    known = [int(e) for e in epochs if e is not None]
    fig, (ax, ax_speed) = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [2.2, 1]})
    for key, text, style in (("train_mse", "training images", "o-"), ("heldout_mse", "held-out images", "s--")):
        points = [(e, r.get(key)) for e, r in zip(epochs, log) if e is not None and r.get(key) is not None]
        if points:
            ax.plot(*zip(*points), style, label=text, markersize=4)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("reconstruction MSE (pixels in [0, 1])")
    ax.set_title("Reconstruction error per epoch")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    speed = [(e, r.get("images_per_s")) for e, r in zip(epochs, log) if e is not None and r.get("images_per_s")]
    if speed:
        ax_speed.plot(*zip(*speed), "o-", color="tab:gray", markersize=4)
    ax_speed.set_xlabel("epoch")
    ax_speed.set_ylabel("training images per second")
    ax_speed.set_title("Throughput")
    ax_speed.grid(True, alpha=0.3)
    for axis in (ax, ax_speed):
        if 0 < len(known) <= 12:  # few epochs: a tick at each, and room around a single point
            axis.set_xticks(known)
            axis.set_xlim(min(known) - 0.5, max(known) + 0.5)
        else:
            axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    data = config.get("data") or {}
    fig.suptitle(f"Training curve: N = {num(data.get('n_train'))} training, {num(data.get('n_heldout'))} held-out "
                 f"images, {len(log)} epoch{'s' if len(log) != 1 else ''}")
    fig.tight_layout()
    return assets.add_figure(fig, "training-curve")


def run_section(run, assets: Assets) -> Section:
    config, path = run.config, Path(run.path)
    log = read_csv_rows(path / TRAIN_LOG)
    data = config.get("data") or {}
    section = Section("run", "The run", lead="What was trained, on which images, and how well it reconstructs "
                                             "faces it never saw.")
    section.blocks.append(Columns([key_value_table(data_rows(config), "Data"),
                                   key_value_table(model_rows(config), "Model"),
                                   key_value_table(training_rows(config, log), "Training")]))
    existing = [p for p in pngs(path) if p.name in CURVE_NAMES]
    if existing:
        curve = existing[0]
    elif log:
        curve = plot_training_curve(log, config, assets)
    else:
        curve = None
    if curve is not None:
        section.blocks.append(Figure(curve, title="Training curve", caption=(
            f"Mean squared reconstruction error per epoch on the {num(data.get('n_train'))} training images and "
            f"the {num(data.get('n_heldout'))} held-out images, from `{TRAIN_LOG}`; a held-out curve far above the "
            "training curve would mean overfitting.")))
    else:
        section.blocks.append(Text(f"No `{TRAIN_LOG}` in the run: the training curve cannot be drawn.", "note"))
    if (path / RECON_GRID).is_file():
        shown = min(32, int(data.get("n_heldout") or 32))
        section.blocks.append(Figure(path / RECON_GRID, title="Reconstructions", pixel_art=True, caption=(
            f"Rows in pairs: up to 8 held-out images, then their reconstructions by the autoencoder "
            f"(first {shown} held-out images, N = {shown}).")))
    return section


def run_facts(run) -> list[tuple[str, str]]:
    """Header facts: data, size, latent dimension, epochs, final held-out error."""
    config = run.config
    log = read_csv_rows(Path(run.path) / TRAIN_LOG)
    facts = [("data", f"`{dig(config, 'data', 'spec', default='—')}`"),
             ("images", f"{num(dig(config, 'data', 'n_train'))} train / {num(dig(config, 'data', 'n_heldout'))} "
                        "held-out"),
             ("size", f"{dig(config, 'model', 'image_size', default='—')} px"),
             ("z_dim", num(dig(config, "model", "z_dim"))),
             ("epochs", num(len(log)) if log else num(dig(config, "train", "epochs")))]
    if log and log[-1].get("heldout_mse") is not None:
        facts.append(("held-out MSE", num(log[-1]["heldout_mse"], 4)))
    return facts
