"""The protocol of an evaluation as metrics.json records it: settings, seeds, references, methods."""

from __future__ import annotations

from sklearn.exceptions import NotFittedError

from aegen.evaluate.protocol.record import EvalProtocol


def describe_protocol(evaluator) -> EvalProtocol:
    """Settings, seeds, references and skipped metrics of a fitted :class:`~aegen.evaluate.protocol.evaluator.Evaluator`.

    Built as the object metrics.json records (this is where its keys and their order are set)
    and read into an :class:`~aegen.evaluate.protocol.record.EvalProtocol`, whose ``to_dict``
    gives that object back."""
    refs = getattr(evaluator, "references_", None)
    if refs is None:
        raise NotFittedError("this Evaluator is not fitted: call fit(run) first")
    run, ext, det, subsets = refs.run, refs.extractor, refs.detector, refs.subsets
    return EvalProtocol.from_dict({
        "n": evaluator.n, "seed": evaluator.seed, "repeats": evaluator.repeats, "fit_seeds": evaluator.fit_seeds,
        "bootstrap": evaluator.bootstrap, "batch_size": evaluator.batch_size,
        "seeds": refs.seeds, "image_size": int(run.image_size),
        "z_dim": int(run.z_dim), "split_sizes": refs.split_sizes, "split_rule": getattr(run, "split_rule", None),
        "reference": {"split": "heldout", "n": int(len(subsets.heldout)), "seed": refs.seeds["heldout-reference"],
                      "chosen": "a seeded subset of the held-out split (identity-disjoint from training)",
                      "n_train_reference": int(len(subsets.train)),
                      "reconstruction_rows": int(len(subsets.reconstruction)),
                      "reconstruction_disjoint_from_reference": True},
        "features": ext.describe() if ext is not None else None,
        "fid": {"computation": "exact, from Gram matrices (aegen.evaluate.metrics.intervals.fid_from_gram)",
                "note": f"FID is biased upward at small N; here N = {evaluator.n}; see fid_inf where computed"},
        "kid": {"kernel": "(x.y/D + 1)^3", "estimator": "unbiased MMD^2 on the full sets of each repeat"},
        "intervals": {"repeats": "t interval over the repeats' values (reference set fixed)",
                      "bootstrap": f"{evaluator.bootstrap} replicates resampling reference and pooled generated images; "
                                   "normal interval estimate ± 1.96 sd", "level": 0.95},
        "precision_recall": {"k": evaluator.pr_k, "reference": "Kynkaanniemi et al. 2019",
                             "features": "Inception pool-3, not VGG-16"},
        "density_coverage": {"k": evaluator.dc_k, "reference": "Naeem et al. 2020"},
        "face_detection": det.describe() if det is not None else None,
        "memorisation": {"space": f"box-downsampled pixels, {refs.side} px side, rounded to 8 bits, values in [0, 1]",
                         "distance": "RMS per pixel channel", "training_images": refs.split_sizes["train"],
                         "copying_test": refs.describe_copy_tests(),
                         "meehan": f"Meehan et al. 2020: Z_U and C_T over {refs.copy_cells} k-means cells"},
        "latent_check": {**refs.ellipsoid.describe(), "copy_guard": refs.describe_copy_tests(latent=True)},
        "reference_values": refs.reference_values(),
        "skipped": dict(refs.skipped),
        "cache": {"folder": str(refs.cache.folder), "hits": refs.cache.hits, "misses": refs.cache.misses},
        "timings_s": dict(refs.timings),
        "versions": refs.versions,
    })
