"""Reference time-dependent AUC and concordance from scikit-survival 0.28.0 (run once, throwaway venv).

    python3 -m venv /tmp/sks && /tmp/sks/bin/pip install scikit-survival==0.28.0
    cd tests/data/sksurv && /tmp/sks/bin/python generate_reference.py
"""
import json

import numpy as np
import pandas as pd
import sksurv
from sksurv.metrics import concordance_index_censored, cumulative_dynamic_auc
from sksurv.util import Surv

rng = np.random.default_rng(2007)


def simulate(n):
    x = rng.normal(size=n)
    event_time = rng.exponential(1.0 / (0.1 * np.exp(0.8 * x)))
    censor_time = rng.uniform(0, 25, n)
    time = np.round(np.minimum(event_time, censor_time), 6)
    event = (event_time <= censor_time).astype(int)
    risk = np.round(0.8 * x + rng.normal(0, 0.5, n), 1)  # rounded: tied risk scores on purpose
    return pd.DataFrame({"time": time, "event": event, "risk": risk})


train, test = simulate(250), simulate(150)
train.to_csv("train.csv", index=False)
test.to_csv("test.csv", index=False)
times = [2.0, 4.0, 6.0, 8.0]
s_train = Surv.from_arrays(train.event.astype(bool), train.time)
s_test = Surv.from_arrays(test.event.astype(bool), test.time)
auc, mean_auc = cumulative_dynamic_auc(s_train, s_test, test.risk.to_numpy(), times)
cindex = concordance_index_censored(test.event.astype(bool), test.time, test.risk)[0]
out = {
    "generator": f"scikit-survival {sksurv.__version__}, numpy {np.__version__}",
    "times": times,
    "cumulative_dynamic_auc": [float(a) for a in auc],
    "concordance_index_censored": float(cindex),
}
json.dump(out, open("reference_values.json", "w"), indent=2)
print(out)
