#!/usr/bin/env python3
"""Public tables for nabla's own-data path, with baselines from scikit-learn on the same split.

Exports scikit-learn's bundled tables (no download: they ship inside the package) as CSV files
with a header, split 80/20 with a fixed seed, and prints the test score of a linear model and of
an MLP trained on the training file:

    python3 -m venv /tmp/skl && /tmp/skl/bin/pip install scikit-learn pandas
    /tmp/skl/bin/python scripts/tables_baseline.py OUT_DIR

Writes OUT_DIR/<name>_train.csv and OUT_DIR/<name>_test.csv for iris, wine, breast_cancer
(classification: accuracy; iris's and breast_cancer's classes as names) and diabetes (regression:
RMSE and R² in the target's units). nabla's figures come from the README's commands on these files:

    nabla train --data iris_train.csv --target target --test-data iris_test.csv --json
    nabla train --data diabetes_train.csv --target target --regression --test-data diabetes_test.csv --json
"""

import sys
from pathlib import Path

from sklearn import datasets
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import accuracy_score, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

SEED = 0

TABLES = {
    "iris": (datasets.load_iris, True, True),
    "wine": (datasets.load_wine, True, False),
    "breast_cancer": (datasets.load_breast_cancer, True, True),
    "diabetes": (datasets.load_diabetes, False, False),
}


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    print("table            task            linear           MLP (100 ReLU, Adam)")
    for name, (load, classes, named) in TABLES.items():
        bunch = load(as_frame=True)
        frame = bunch.frame
        # column names without spaces or commas, as a user's CSV would have
        frame.columns = [c.replace(" ", "_").replace("(", "").replace(")", "") for c in frame.columns]
        if named:
            frame["target"] = [bunch.target_names[k] for k in frame["target"]]
        train, test = train_test_split(
            frame, test_size=0.2, random_state=SEED, stratify=frame["target"] if classes else None
        )
        train.to_csv(out / f"{name}_train.csv", index=False)
        test.to_csv(out / f"{name}_test.csv", index=False)
        x_train, y_train = train.drop(columns="target"), train["target"]
        x_test, y_test = test.drop(columns="target"), test["target"]
        if classes:
            linear = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
            mlp = make_pipeline(StandardScaler(), MLPClassifier(max_iter=2000, random_state=SEED))
            scores = []
            for model in (linear, mlp):
                model.fit(x_train, y_train)
                scores.append(f"acc {100 * accuracy_score(y_test, model.predict(x_test)):.2f}%")
            task = "classification"
        else:
            linear = make_pipeline(StandardScaler(), LinearRegression())
            mlp = make_pipeline(StandardScaler(), MLPRegressor(max_iter=5000, random_state=SEED))
            scores = []
            for model in (linear, mlp):
                model.fit(x_train, y_train)
                p = model.predict(x_test)
                scores.append(f"rmse {mean_squared_error(y_test, p) ** 0.5:.2f} r2 {r2_score(y_test, p):.3f}")
            task = "regression"
        print(f"{name:<16} {task:<15} {scores[0]:<16} {scores[1]}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/nabla-tables"))
