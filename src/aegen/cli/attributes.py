"""``aegen attributes``: attribute clusters in latent space, and conditional sampling checked.

The options are declared on the fields of :class:`~aegen.attributes.config.AttributesConfig`.
"""

from __future__ import annotations

from aegen.cli.common import step_config


def run(args) -> int:
    from aegen.attributes import analyze_run, rate_conditional_sampling
    from aegen.conditions import run_condition
    from aegen.run import open_run

    config = step_config(args)
    run_ = open_run(args.run)
    if config.rate:
        extra = [run_condition(run_, text) for text in config.where]
        result = rate_conditional_sampling(
            run_, config.attrs, method=config.method, n=config.n, params=config.params,
            random_state=config.random_state, extra_where=[w for w in extra if w],
            classifier_params={"epochs": config.classifier_epochs, "random_state": config.random_state,
                               "num_threads": config.classifier_threads},
            retrain=config.retrain, figures=config.figures)
        out = run_.path / "attributes"
        for name, row in result["attributes"].items():
            print(f"{name}: =1 -> {row['positive_share_when_requested']:.1%} carry it "
                  f"(unconditional {row['unconditional_positive_rate']:.1%}); =-1 -> "
                  f"{row['negative_share_when_requested']:.1%} lack it; classifier accuracy "
                  f"{row['classifier_accuracy']:.3f} (balanced {row['classifier_balanced_accuracy']:.3f})")
        print(f"conditional sampling rated: {out / 'conditional.json'}, {out / 'conditional.md'}")
        return 0
    summary = analyze_run(run_, config.attrs, silhouette_points=config.silhouette_points, probe_C=config.probe_c,
                          random_state=config.random_state, figures=config.figures)
    out = run_.path / "attributes"
    for name, row in summary["attributes"].items():
        print(f"{name}: {row['verdict']} (silhouette {row['silhouette']['latent']['mean']:.3f}, probe balanced "
              f"accuracy {row['probe']['balanced_accuracy']:.3f}, centres {row['centre_distance_in_spread']:.2f} "
              "spreads apart)")
    print(f"attribute analysis: {out / 'summary.json'}, {out / 'summary.md'}"
          + (f", figures in {out}" if config.figures else ""))
    return 0
