"""``aegen train``: train the autoencoder on a data spec.

The options are declared on the fields of :class:`~aegen.train_config.TrainConfig` and
:class:`~aegen.model.ModelConfig` (:mod:`aegen.config`); an option the user does not give is
left to the dataclass default.
"""

from __future__ import annotations


def add_options(p) -> None:
    """The options of both configs on ``aegen train``'s parser ``p``."""
    from aegen import config
    from aegen.model import ModelConfig
    from aegen.train_config import TrainConfig

    config.add_options(p, TrainConfig, ModelConfig)


def config_from_args(args):
    """The :class:`~aegen.train_config.TrainConfig` of parsed ``aegen train`` arguments."""
    from aegen.config import given_options
    from aegen.model import ModelConfig
    from aegen.train_config import TrainConfig

    return TrainConfig(model=ModelConfig(**given_options(args, ModelConfig)), **given_options(args, TrainConfig))


def run(args) -> int:
    from aegen.run import Run
    from aegen.train import train

    out = train(config_from_args(args))
    rule = Run.open(out).split_rule
    print(f"trained: {out} (log {out / 'train_log.csv'}, reconstructions {out / 'recon_grid.png'}; "
          f"{rule['n_train']} training and {rule['n_heldout']} held-out images, held out by {rule['policy']})")
    return 0
