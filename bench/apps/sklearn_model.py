"""App 7, a model fitted at start-up (scikit-learn): a random forest of 40 trees and a scaled
logistic regression are fitted on 6,000 synthetic rows of 20 features (a service that trains
on its data when it starts); then it answers one prediction. Single-threaded fits (the default
n_jobs), so that the figures do not depend on how busy the other cores are."""

import numpy as np
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

ROWS, FEATURES = 6_000, 20
X, y = make_classification(n_samples=ROWS, n_features=FEATURES, n_informative=8, random_state=0)
FOREST = RandomForestClassifier(n_estimators=40, max_depth=10, random_state=0).fit(X, y)
LINEAR = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)


def main() -> None:
    query = X[:5]
    print(FOREST.predict(query).tolist(), np.round(LINEAR.predict_proba(query)[:, 1], 4).tolist(), flush=True)


if __name__ == "__main__":
    main()
