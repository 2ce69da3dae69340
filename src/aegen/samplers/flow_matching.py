"""A flow-matching prior: a residual MLP velocity field from noise to the whitened z-points."""

from __future__ import annotations

import math

import torch
from torch import nn

from aegen.samplers.base import check_int
from aegen.samplers.learned import LearnedSampler

SOLVERS = {"euler": 1, "heun": 2, "rk4": 4}  # network evaluations per step


class FlowMatchingSampler(LearnedSampler):
    """Conditional flow matching (rectified flow) on PCA-whitened z-points, sampled with an ODE.

    Training draws noise x0 ~ N(0, I), a whitened z-point x1 and a time t ~ U(0, 1), and
    regresses the network's velocity v(x_t, t) at x_t = (1 - t) x0 + t x1 onto x1 - x0.
    Sampling integrates dx/dt = v(x, t) from t = 0 to 1 in ``steps`` steps of ``solver``
    (``"euler"``, ``"heun"`` or ``"rk4"``: 1, 2 or 4 network evaluations a step; Heun's last
    step is Euler's, which saves one evaluation). ``temperature`` scales the initial noise.

    The network: a linear map of x to ``width`` units, ``blocks`` residual blocks (layer norm
    modulated by the time embedding, then two linear layers with SiLU between) and a linear map
    back to d, zero-initialised so that training starts from the zero field.

    Fitted: ``mean_`` (d,), ``components_`` (d, d), ``scales_`` (d,) and ``network_``. It has no
    :meth:`log_prob` (the density would need the divergence of the field along every path).
    """

    method = "flow-matching"
    sample_params = ("temperature", "steps", "solver", "progress")

    def __init__(self, width: int = 512, blocks: int = 4, epochs: int = 20, batch_size: int = 256,
                 learning_rate: float = 1e-3, weight_decay: float = 0.0, ema_decay: float = 0.999,
                 validation_fraction: float = 0.1, patience: int = 10, steps: int = 20, solver: str = "heun",
                 temperature: float = 1.0, gaussianize_radius: bool = False, n_components: int | None = None,
                 device: str = "auto", random_state: int = 0, progress: bool = True):
        self.width = width
        self.blocks = blocks
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.ema_decay = ema_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.steps = steps
        self.solver = solver
        self.temperature = temperature
        self.gaussianize_radius = gaussianize_radius
        self.n_components = n_components
        self.device = device
        self.random_state = random_state
        self.progress = progress

    def _check_params(self):
        super()._check_params()
        check_int("width", self.width, low=1, high=16384)
        check_int("blocks", self.blocks, low=1, high=64)
        check_int("steps", self.steps, low=1, high=10_000)
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {', '.join(SOLVERS)}, got {self.solver!r}")

    def _build_network(self, d):
        return VelocityField(d, int(self.width), int(self.blocks))

    def _loss(self, network, batch):
        noise = torch.randn_like(batch)
        t = torch.rand(batch.shape[0], device=batch.device)
        x_t = noise + t[:, None] * (batch - noise)
        return ((network(x_t, t) - (batch - noise)) ** 2).mean()

    def _model_from_noise(self, noise):
        return integrate(self.network_, noise, int(self.steps), self.solver)

    @property
    def evaluations_per_sample(self) -> int:
        """Network evaluations per sampled vector."""
        per_step = SOLVERS[self.solver]
        return int(self.steps) * per_step - (1 if self.solver == "heun" else 0)


def integrate(field: nn.Module, x: torch.Tensor, steps: int, solver: str) -> torch.Tensor:
    """Solve dx/dt = field(x, t) from t = 0 to 1 in ``steps`` equal steps of ``solver``."""
    h = 1.0 / steps
    for k in range(steps):
        t = k * h
        v1 = field(x, _time(t, x))
        if solver == "euler" or (solver == "heun" and k == steps - 1):
            x = x + h * v1
        elif solver == "heun":
            v2 = field(x + h * v1, _time(t + h, x))
            x = x + 0.5 * h * (v1 + v2)
        else:
            v2 = field(x + 0.5 * h * v1, _time(t + 0.5 * h, x))
            v3 = field(x + 0.5 * h * v2, _time(t + 0.5 * h, x))
            v4 = field(x + h * v3, _time(t + h, x))
            x = x + h / 6.0 * (v1 + 2.0 * v2 + 2.0 * v3 + v4)
    return x


def _time(t: float, like: torch.Tensor) -> torch.Tensor:
    return torch.full((1,), t, dtype=like.dtype, device=like.device)


class VelocityField(nn.Module):
    """v(x, t): (n, d) and (n,) or (1,) times -> (n, d); a residual MLP with time modulation."""

    def __init__(self, d: int, width: int, blocks: int, time_features: int = 64):
        super().__init__()
        # Fixed log-spaced frequencies for the sinusoidal time embedding (saved with the weights).
        self.register_buffer("frequencies", torch.exp(torch.linspace(0.0, math.log(1000.0), time_features // 2)))
        self.time_mlp = nn.Sequential(nn.Linear(2 * (time_features // 2), width), nn.SiLU(), nn.Linear(width, width),
                                      nn.SiLU())
        self.inp = nn.Linear(d, width)
        self.blocks = nn.ModuleList(_ResidualBlock(width) for _ in range(blocks))
        self.out_norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, d)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        # One time for the whole batch (sampling) embeds once and broadcasts.
        angles = t[:, None] * self.frequencies
        emb = self.time_mlp(torch.cat([angles.sin(), angles.cos()], dim=-1))
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, emb)
        return self.out(nn.functional.silu(self.out_norm(h)))


class _ResidualBlock(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.norm = nn.LayerNorm(width, elementwise_affine=False)
        self.modulation = nn.Linear(width, 2 * width)
        self.fc1 = nn.Linear(width, width)
        self.fc2 = nn.Linear(width, width)
        nn.init.zeros_(self.modulation.weight)
        nn.init.zeros_(self.modulation.bias)

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        scale, shift = self.modulation(emb).chunk(2, dim=-1)
        y = self.norm(h) * (1.0 + scale) + shift
        return h + self.fc2(nn.functional.silu(self.fc1(y)))
