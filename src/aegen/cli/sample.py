"""``aegen sample RUN --method NAME``: generate z-vectors with a sampler and decode them.

The options are declared on the fields of :class:`~aegen.sample.SampleConfig`, which also checks them.
"""

from __future__ import annotations

import json
import sys

from aegen.cli.common import step_config


def warn_of_renamed_params(config) -> None:
    """A line on stderr for each parameter given by a name the sampler has since changed."""
    from aegen.samplers.registry import SAMPLERS

    for old, new in SAMPLERS[config.method].renamed_params().items():
        if old in config.sampler_params():
            print(f"aegen sample: {old} is deprecated, it is now called {new}", file=sys.stderr)


def method_params(args) -> dict:
    """Sampler parameters from the method flags and --param KEY=VALUE (which wins)."""
    return step_config(args).sampler_params()


def run(args) -> int:
    from aegen.sample import sample_run

    config = step_config(args)
    warn_of_renamed_params(config)
    out = sample_run(args.run, **config.keywords())
    meta = json.loads((out / "params.json").read_text())
    fit = meta["fit"]
    source = "cached" if fit.get("cache_hit") else f"fitted in {meta['timings_s']['fit']:.1f} s"
    print(f"{config.method}: sampler {source} on {fit.get('n_zpoints')} z-points ({fit['cache']})")
    print(f"wrote {config.n} z-vectors and {', '.join(f for f in meta['files'] if f != 'z.npy')} to {out}")
    return 0
