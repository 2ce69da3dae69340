"""A small CNN that tells which attributes a face image carries.

It rates generated faces independently of the latent space: it is trained on the real
training images (pixels, not z-points) with the run's labels and checked on the held-out
images. Multi-label: one logit per attribute, binary cross-entropy, a decision threshold of
0.5 on the probability. Weights go to safetensors, the configuration and scores to JSON.
"""

from __future__ import annotations

import contextlib
import numbers
import time
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from sklearn.utils import check_scalar
from tqdm import tqdm

from aegen import AegenError
from aegen.attributes.directions import classification_scores
from aegen.io import load_tensors, read_json, save_tensors, write_json

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "classifier.json"


class AttributeCNN(nn.Module):
    """Four stride-2 conv layers (3x3, batch norm, ReLU) and a linear layer.

    Input (n, 3, S, S) float in [-1, 1] with S = input_size (a multiple of 16); output
    (n, n_attrs) logits.
    """

    def __init__(self, n_attrs: int, input_size: int = 64, channels: Sequence[int] = (16, 32, 64, 128)):
        super().__init__()
        if input_size % 16:
            raise ValueError(f"input_size must be a multiple of 16, got {input_size}")
        if len(channels) != 4:
            raise ValueError(f"channels must list 4 layer widths, got {channels}")
        layers: list[nn.Module] = []
        previous = 3
        for width in channels:
            layers += [nn.Conv2d(previous, width, 3, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            previous = width
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(0.2)
        self.head = nn.Linear(previous * (input_size // 16) ** 2, n_attrs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(torch.flatten(self.features(x), 1)))


def images_to_tensor(images: np.ndarray, input_size: int) -> torch.Tensor:
    """(n, H, W, 3) uint8 -> (n, 3, input_size, input_size) float32 in [-1, 1] (area resize)."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)
    if x.shape[-1] != input_size or x.shape[-2] != input_size:
        x = F.interpolate(x, size=(input_size, input_size), mode="area")
    return x


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch CPU threads (None: leave the setting), then restore it."""
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# Softening reduces the resolution by one of these factors and scales back up.
SOFTEN_FACTORS = (2, 4)


def soften(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """Reduce the resolution by ``factor`` and scale back: (n, 3, S, S) -> (n, 3, S, S).

    The result is about as sharp as a face decoded by the autoencoder.
    """
    return F.interpolate(F.avg_pool2d(x, factor), scale_factor=factor, mode="bilinear", align_corners=False)


class AttributeClassifier:
    """Train, apply, save and load the attribute CNN.

    epochs, batch_size, lr: training schedule (AdamW, one-cycle learning rate); input_size:
    images are resized to this square size (multiple of 16; None: the image size up to 64,
    which keeps training on a CPU to a minute or two); channels: the 4 conv widths;
    blur_prob: share of training images softened (by a factor from ``SOFTEN_FACTORS``, see
    :func:`soften`), because the faces it
    rates come out of a decoder and are blurrier than photographs; random_state seeds the
    initialisation, the batch order, flips and softening; num_threads: torch CPU threads while
    training and predicting (default 1: the network is small, and on a machine whose cores
    are busy with other jobs more threads wait on each other and run many times slower;
    None keeps torch's setting); progress shows tqdm bars.
    After ``fit``: ``attr_names_``, ``input_size_``, ``model_``, ``train_seconds_`` (wall), ``train_cpu_seconds_``,
    ``n_train_``.
    """

    def __init__(self, epochs: int = 5, batch_size: int = 128, lr: float = 3e-3, input_size: int | None = None,
                 channels: Sequence[int] = (16, 32, 64, 128), blur_prob: float = 0.3, random_state: int = 0,
                 num_threads: int | None = 1, progress: bool = True):
        self.epochs = epochs
        self.num_threads = num_threads
        self.blur_prob = blur_prob
        self.batch_size = batch_size
        self.lr = lr
        self.input_size = input_size
        self.channels = channels
        self.random_state = random_state
        self.progress = progress

    def get_params(self) -> dict:
        return {"epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr,
                "input_size": self.input_size, "channels": list(self.channels), "blur_prob": self.blur_prob,
                "random_state": self.random_state}

    def _check_params(self) -> None:
        """ValueError (TypeError for a wrong type) naming the first bad parameter."""
        check_scalar(self.epochs, "epochs", numbers.Integral, min_val=1)
        check_scalar(self.batch_size, "batch_size", numbers.Integral, min_val=2)
        check_scalar(self.lr, "lr", numbers.Real, min_val=0.0, include_boundaries="neither")
        check_scalar(self.blur_prob, "blur_prob", numbers.Real, min_val=0.0, max_val=1.0)
        check_scalar(self.random_state, "random_state", numbers.Integral, min_val=0)
        if self.num_threads is not None:
            check_scalar(self.num_threads, "num_threads", numbers.Integral, min_val=1)
        if self.input_size is not None:
            check_scalar(self.input_size, "input_size", numbers.Integral, min_val=16)

    def fit(self, images: np.ndarray, labels: np.ndarray, attr_names: Sequence[str]) -> "AttributeClassifier":
        """images (N, H, W, 3) uint8 (a memory map is fine); labels (N, A) in {-1, 1}.

        After it: ``input_size_``, the size the images are resized to (``input_size``, or
        the one chosen for None), beside the attributes the class docstring lists.
        """
        self._check_params()
        with torch_threads(self.num_threads):
            return self._fit(images, labels, attr_names)

    def _fit(self, images: np.ndarray, labels: np.ndarray, attr_names: Sequence[str]) -> "AttributeClassifier":
        labels = np.asarray(labels)
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"images must be (N, H, W, 3), got {images.shape}")
        if labels.shape != (images.shape[0], len(attr_names)):
            raise ValueError(f"labels must be (N, A) = ({images.shape[0]}, {len(attr_names)}), got {labels.shape}")
        torch.manual_seed(self.random_state)
        rng = np.random.default_rng(self.random_state)
        self.attr_names_ = list(attr_names)
        size = images.shape[1]
        self.input_size_ = int(self.input_size or (size if size <= 64 and size % 16 == 0 else 64))
        self.model_ = AttributeCNN(len(attr_names), self.input_size_, self.channels)
        targets = torch.from_numpy((labels > 0).astype(np.float32))
        n = images.shape[0]
        steps_per_epoch = int(np.ceil(n / self.batch_size))
        optimizer = torch.optim.AdamW(self.model_.parameters(), lr=self.lr, weight_decay=1e-4)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=self.lr, total_steps=self.epochs * steps_per_epoch,
                                                       pct_start=0.15)
        self.model_.train()
        start, start_cpu = time.perf_counter(), time.process_time()
        bar = tqdm(total=self.epochs * steps_per_epoch, desc="attribute classifier", disable=not self.progress,
                   unit="batch")
        for epoch in range(self.epochs):
            order = rng.permutation(n)
            running = 0.0
            for step in range(steps_per_epoch):
                idx = np.sort(order[step * self.batch_size:(step + 1) * self.batch_size])
                x = images_to_tensor(images[idx], self.input_size_)
                flip = torch.from_numpy(rng.random(idx.size) < 0.5)
                x[flip] = x[flip].flip(-1)  # faces are left-right symmetric; labels stay valid
                blur_draw = rng.random(idx.size)
                factor_draw = rng.integers(0, len(SOFTEN_FACTORS), idx.size)
                for k, factor in enumerate(SOFTEN_FACTORS):
                    chosen = torch.from_numpy((blur_draw < self.blur_prob) & (factor_draw == k))
                    if chosen.any():
                        x[chosen] = soften(x[chosen], factor)
                loss = F.binary_cross_entropy_with_logits(self.model_(x), targets[idx])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                running = 0.95 * running + 0.05 * loss.item() if step else loss.item()
                bar.set_postfix(epoch=epoch + 1, loss=f"{running:.3f}")
                bar.update()
        bar.close()
        self.model_.eval()
        self.train_seconds_ = time.perf_counter() - start
        # CPU time too: on a shared machine the wall time says more about the neighbours.
        self.train_cpu_seconds_ = time.process_time() - start_cpu
        self.n_train_ = int(n)
        return self

    @torch.no_grad()
    def predict_proba(self, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """Probability of each attribute: (n, H, W, 3) uint8 -> (n, A) float32."""
        self._check_fitted()
        self.model_.eval()
        with torch_threads(self.num_threads):
            out = [torch.sigmoid(self.model_(images_to_tensor(images[i:i + batch_size], self.input_size_))).numpy()
                   for i in range(0, images.shape[0], batch_size)]
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, len(self.attr_names_)), np.float32)

    def predict(self, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """Labels in {-1, 1}: (n, H, W, 3) uint8 -> (n, A) int8."""
        return np.where(self.predict_proba(images, batch_size) > 0.5, 1, -1).astype(np.int8)

    def score(self, images: np.ndarray, labels: np.ndarray) -> dict[str, dict]:
        """Per attribute: accuracy, balanced accuracy, majority baseline, true and predicted positive rates."""
        labels = np.asarray(labels)
        predicted = self.predict(images)
        scores = {}
        for k, name in enumerate(self.attr_names_):
            s = classification_scores(labels[:, k], predicted[:, k])
            s["positive_rate_true"] = float(np.mean(labels[:, k] > 0))
            s["positive_rate_predicted"] = float(np.mean(predicted[:, k] > 0))
            scores[name] = s
        return scores

    def save(self, folder: str | Path, extra: dict | None = None) -> Path:
        """Write model.safetensors and classifier.json (parameters, names, ``extra``) to ``folder``."""
        self._check_fitted()
        folder = Path(folder)
        save_tensors(folder / WEIGHTS_FILE, self.model_.state_dict())
        write_json(folder / CONFIG_FILE, {
            "params": self.get_params(), "input_size": self.input_size_, "attr_names": self.attr_names_,
            "n_train": self.n_train_,
            "train_seconds": self.train_seconds_, "train_cpu_seconds": getattr(self, "train_cpu_seconds_", None),
            "train_threads": self.num_threads or torch.get_num_threads(), "torch_version": torch.__version__, **(extra or {})})
        return folder

    @classmethod
    def load(cls, folder: str | Path, num_threads: int | None = 1) -> "AttributeClassifier":
        """Load a classifier saved by :meth:`save`; AegenError if files are missing or do not match."""
        folder = Path(folder)
        config = read_json(folder / CONFIG_FILE)
        try:
            clf = cls(**config["params"], num_threads=num_threads, progress=False)
            clf.attr_names_ = list(config["attr_names"])
            # Classifiers saved before input_size_ existed hold the size in their params.
            clf.input_size_ = int(config.get("input_size") or clf.input_size)
            clf.model_ = AttributeCNN(len(clf.attr_names_), clf.input_size_, clf.channels)
            clf.model_.load_state_dict(load_tensors(folder / WEIGHTS_FILE, "classifier weights")[0])
        except (KeyError, TypeError, ValueError, RuntimeError, AegenError) as exc:
            raise AegenError(f"cannot load the attribute classifier in {folder}: {exc}") from None
        clf.model_.eval()
        clf.n_train_ = int(config.get("n_train", 0))
        clf.train_seconds_ = float(config.get("train_seconds", float("nan")))
        clf.train_cpu_seconds_ = config.get("train_cpu_seconds")
        clf.config_ = config
        return clf

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise ValueError("the classifier is not fitted: call fit() or load()")


def load_or_train_classifier(run, retrain: bool = False, progress: bool = True, **params) -> AttributeClassifier:
    """The run's attribute classifier, cached in RUN/attributes/classifier/.

    Trained on ``run.images("train")`` with every attribute the run labels, scored on
    ``run.images("heldout")``; the held-out scores are stored in classifier.json (read them
    from ``clf.config_["heldout_scores"]``). A cached classifier is reused when it was trained
    with the same ``params`` on as many training images with the same attribute names;
    ``retrain`` forces a new one.
    """
    from aegen.attributes.labels import attribute_names

    names = attribute_names(run, "train")
    folder = Path(run.subdir("attributes/classifier"))
    num_threads = params.get("num_threads", 1)
    wanted = AttributeClassifier(**params).get_params()
    train_labels = np.asarray(run.zpoint_meta("train")["attrs"])
    if not retrain and (folder / CONFIG_FILE).exists() and (folder / WEIGHTS_FILE).exists():
        try:
            cached = AttributeClassifier.load(folder, num_threads=num_threads)
        except AegenError:
            cached = None
        if cached is not None:
            have = cached.get_params()
            have["input_size"] = None if wanted["input_size"] is None else cached.input_size_
            if have == wanted and cached.attr_names_ == names and cached.n_train_ == train_labels.shape[0]:
                return cached
    images = run.images("train")
    clf = AttributeClassifier(**params, progress=progress).fit(images, train_labels, names)
    del images
    held_labels = run.zpoint_meta("heldout")["attrs"]
    extra = {"image_size": int(run.image_size)}
    if held_labels is not None and len(held_labels):
        extra["n_heldout"] = int(len(held_labels))
        extra["heldout_scores"] = clf.score(run.images("heldout"), np.asarray(held_labels))
    clf.save(folder, extra=extra)
    return AttributeClassifier.load(folder, num_threads=num_threads)
