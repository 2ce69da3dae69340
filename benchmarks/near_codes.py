"""What the decoder shows for z-vectors near real codes (docs/RESULTS.md, 'Which sampler makes the best faces'); run from the repository root:

    python benchmarks/near_codes.py   # needs runs/celeba64 encoded with --mirrored; writes near_codes.json


Rows (N=2000, the seed-1000 reference of docs/RESULTS.md): decoded training z-points (a memoriser's bound),
held-out z-points plus whitened Gaussian noise, and a Gaussian KDE of the training+mirrored points.
"""
import json, time
import numpy as np
from aegen.run import Run
from aegen.evaluate.protocol.evaluator import Evaluator

run = Run.open("runs/celeba64")
ev = Evaluator(n=2000, seed=1000, faces=False, bootstrap=0, progress=False).fit(run)
z_train = np.asarray(run.zpoints("train"), dtype=np.float64)
z_mirr = np.asarray(np.load("runs/celeba64/zpoints/train_mirrored.npy"), dtype=np.float64)
z_held = np.asarray(run.zpoints("heldout"), dtype=np.float64)
pool = np.concatenate([z_train, z_mirr])
cov = np.cov(pool, rowvar=False)
L = np.linalg.cholesky(cov + 1e-10 * np.eye(cov.shape[0]))
rng = np.random.default_rng(7)
out = {}

def row(name, Z):
    t = time.time()
    Z = Z.astype(np.float32)
    s = ev.score(name, [Z], [run.decode(Z, progress=False)])
    r = s.row
    keep = {k: r.get(k) for k in ("fid", "kid", "precision", "recall", "coverage", "latent_copy_z", "latent_excess",
                                   "latent_copy_excess", "copy_z", "in_band", "radius_band_share", "radius_ks")}
    keep.update({k: v for k, v in r.items() if k.startswith("latent_") and isinstance(v, (int, float))})
    keep["fid"] = r["fid_repeats"][0] if r.get("fid") is None else r["fid"]
    keep["precision"] = r.get("precision_repeats", [None])[0]
    keep["recall"] = r.get("recall_repeats", [None])[0]
    keep["seconds"] = round(time.time() - t, 1)
    out[name] = keep
    print(name, json.dumps(keep), flush=True)

idx = rng.choice(len(z_train), 2000, replace=False)
row("train-recon", z_train[idx])
# held-out z-points not in the reference subset, plus noise
rest = np.setdiff1d(np.arange(len(z_held)), ev.references_.subsets.heldout)
hidx = rng.choice(rest, 2000, replace=False)
for s in (0.25, 0.5):
    row(f"heldout+noise{s}", z_held[hidx] + s * rng.standard_normal((2000, L.shape[0])) @ L.T)
for h in (0.3, 0.5, 0.7):
    c = pool[rng.integers(0, len(pool), 2000)]
    row(f"kde-h{h}", c + h * rng.standard_normal((2000, L.shape[0])) @ L.T)
json.dump(out, open("near_codes.json", "w"), indent=1)
