# Generates tests/data/pingouin/reference_values.json with pingouin 0.7.0 (run once, in a throwaway venv).
import json
import numpy as np, pandas as pd, pingouin as pg
import matplotlib; matplotlib.use("Agg")
pg.options["round.column.CI95"] = None  # full precision, not the 2-decimal display default
out = {"generator": f"pingouin {pg.__version__}, numpy {np.__version__}, scipy {__import__('scipy').__version__}"}
wine = pd.read_csv("icc_wine.csv")
sf = np.array([[9,2,5,8],[6,1,3,2],[8,4,6,8],[7,1,2,6],[10,5,6,9],[6,2,4,7]], float)
sf_long = pd.DataFrame([(i, j, sf[i, j]) for i in range(6) for j in range(4)], columns=["target", "judge", "rating"])
for name, df, t, r, v in (("wine", wine, "Wine", "Judge", "Scores"), ("shrout_fleiss", sf_long, "target", "judge", "rating")):
    res = pg.intraclass_corr(data=df, targets=t, raters=r, ratings=v).set_index("Type")
    out[name] = {
        "icc2_1": float(res.loc["ICC(A,1)", "ICC"]), "icc2_1_ci": [float(c) for c in res.loc["ICC(A,1)", "CI95"]],
        "icc3_1": float(res.loc["ICC(C,1)", "ICC"]), "icc3_1_ci": [float(c) for c in res.loc["ICC(C,1)", "CI95"]],
        "f_value": float(res.loc["ICC(C,1)", "F"]), "p_value": float(res.loc["ICC(C,1)", "pval"]),
    }
ba = pd.read_csv("blandaltman_giavarina.csv", encoding="utf-8-sig")
ax = pg.plot_blandaltman(ba["A"], ba["B"])
# The bias and the two limits are drawn as horizontal lines: read their y values back from the figure.
ys = sorted({float(l.get_ydata()[0]) for l in ax.lines if len(set(np.ravel(l.get_ydata()))) == 1} - {0.0})
out["blandaltman"] = {"horizontal_lines_sorted": ys}
json.dump(out, open("reference_values.json", "w"), indent=2)
print(json.dumps(out, indent=1))
