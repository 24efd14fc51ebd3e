"""Write the ComBat reference outputs of tests/stats/test_harmonize.py with neuroCombat 0.2.12 (run once).

    python3 -m venv /tmp/nc && /tmp/nc/bin/pip install neuroCombat==0.2.12 numpy pandas
    cd tests/data/combat && /tmp/nc/bin/python generate_reference.py
"""
import warnings

import numpy as np
import pandas as pd
from neuroCombat import neuroCombat, neuroCombatFromTraining
import neuroCombat as nc_pkg

rng = np.random.default_rng(20071)
sizes = {"scannerA": 12, "scannerB": 15, "scannerC": 10}
n_features = 8
rows = []
for b, (name, n) in enumerate(sizes.items()):
    for _ in range(n):
        rows.append({"batch": name, "age": int(rng.integers(30, 80)), "sex": str(rng.choice(["F", "M"]))})
covars = pd.DataFrame(rows)
n = len(covars)
base = rng.normal(10.0, 2.0, size=(n, n_features))
age_effect = np.linspace(-0.05, 0.08, n_features)
sex_effect = np.linspace(0.5, -0.5, n_features)
shift = {"scannerA": 0.0, "scannerB": 1.5, "scannerC": -1.0}
scale = {"scannerA": 1.0, "scannerB": 1.8, "scannerC": 0.6}
feat = np.empty_like(base)
for i, r in covars.iterrows():
    noise = rng.normal(0, 1, n_features) * scale[r.batch] * np.linspace(0.5, 1.5, n_features)
    feat[i] = (base[i] * 0 + 10 + np.arange(n_features) + age_effect * r.age + sex_effect * (r.sex == "M")
               + shift[r.batch] * np.linspace(0.5, 1.5, n_features) + noise)
feat = np.round(feat, 6)
names = [f"f{j}" for j in range(n_features)]
table = pd.concat([covars, pd.DataFrame(feat, columns=names)], axis=1)
table.to_csv("train.csv", index=False)

# New samples from the seen batches (for the apply-to-new-data reference).
new_rows = [{"batch": b} for b in ["scannerB", "scannerA", "scannerC", "scannerB", "scannerC", "scannerA"]]
new = pd.DataFrame(new_rows)
new_feat = np.round(10 + np.arange(n_features) + rng.normal(0, 1.5, size=(len(new), n_features)), 6)
new = pd.concat([new, pd.DataFrame(new_feat, columns=names)], axis=1)
new.to_csv("new.csv", index=False)

cases = {
    "param_cov": dict(categorical_cols=["sex"], continuous_cols=["age"], parametric=True),
    "nonparam_cov": dict(categorical_cols=["sex"], continuous_cols=["age"], parametric=False),
    "param_nocov": dict(parametric=True),
    "meanonly_cov": dict(categorical_cols=["sex"], continuous_cols=["age"], parametric=True, mean_only=True),
    "noeb_cov": dict(categorical_cols=["sex"], continuous_cols=["age"], eb=False),
}
for case, kw in cases.items():
    cov = covars[["batch"] + kw.get("categorical_cols", []) + kw.get("continuous_cols", [])]
    out = neuroCombat(dat=feat.T.copy(), covars=cov, batch_col="batch", **kw)
    pd.DataFrame(out["data"].T, columns=names).to_csv(f"ref_{case}.csv", index=False, float_format="%.12g")
    if case == "param_nocov":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            applied = neuroCombatFromTraining(dat=new_feat.T.copy(), batch=new["batch"].to_numpy(),
                                              estimates=out["estimates"])
        pd.DataFrame(applied["data"].T, columns=names).to_csv(
            "ref_param_nocov_new.csv", index=False, float_format="%.12g")
print("neuroCombat", getattr(nc_pkg, "__version__", "0.2.12"), "numpy", np.__version__, "pandas", pd.__version__)
