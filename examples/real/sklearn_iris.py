"""A scikit-learn pipeline (scaler + logistic regression) trained at start-up on the iris data
set that ships with scikit-learn; the main block predicts and reports. Needs: sklearn (scikit-learn)."""
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, export_text

iris = load_iris()
X_train, X_test, y_train, y_test = train_test_split(iris.data, iris.target, test_size=0.3,
                                                    random_state=42, stratify=iris.target)
model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
model.fit(X_train, y_train)
tree = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X_train, y_train)

if __name__ == "__main__":
    pred = model.predict(X_test)
    print("accuracy", round(accuracy_score(y_test, pred), 3))
    print(confusion_matrix(y_test, pred))
    sample = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
    print(iris.target_names[model.predict(sample)].tolist())
    print(model.predict_proba(sample).round(2))
    print(export_text(tree, feature_names=list(iris.feature_names)))
    print(model.named_steps["standardscaler"].mean_.round(3))
