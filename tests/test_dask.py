"""GridSearchCV over an ALITransformer pipeline on a dask.distributed cluster."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from sklearn_ali import ALITransformer

distributed = pytest.importorskip("distributed")
joblib = pytest.importorskip("joblib")

PARAM_GRID = {"ali__n_components": [2, 3]}


def make_search():
    pipe = Pipeline(
        [
            (
                "ali",
                ALITransformer(max_epochs=1, hidden_layer_sizes=(16,), random_state=0),
            ),
            ("svm", LinearSVC()),
        ]
    )
    return GridSearchCV(pipe, PARAM_GRID, cv=2)


@pytest.fixture(scope="module")
def digits_rows():
    X, y = load_digits(return_X_y=True)
    return X[:120], y[:120]


@pytest.fixture(scope="module")
def client():
    # Worker processes, as on a real cluster: every fit and the pickling of
    # fitted pipelines between processes are exercised.
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def test_grid_search_on_dask_backend(client, digits_rows):
    X, y = digits_rows
    search = make_search()
    with joblib.parallel_config(backend="dask"):
        search.fit(X, y)

    results = search.cv_results_
    assert [p["ali__n_components"] for p in results["params"]] == [2, 3]
    assert np.all(np.isfinite(results["mean_test_score"]))
    assert search.best_params_["ali__n_components"] in (2, 3)
    assert search.best_estimator_.named_steps["ali"].n_features_in_ == 64
    assert search.predict(X[:5]).shape == (5,)

    # Training on the CPU is seeded, so the workers reproduce a local search.
    local = make_search().fit(X, y)
    np.testing.assert_allclose(
        results["mean_test_score"], local.cv_results_["mean_test_score"]
    )


def test_transform_of_a_dask_array_runs_on_the_workers(client, digits_rows):
    """A fitted model maps over a cluster's blocks: each worker encodes its own."""
    da = pytest.importorskip("dask.array")
    X, _ = digits_rows
    ali = ALITransformer(max_epochs=1, hidden_layer_sizes=(16,), random_state=0)
    ali.fit(X)
    X_cluster = client.persist(da.from_array(X, chunks=(40, 64)))

    features = ali.transform(X_cluster)
    assert isinstance(features, da.Array)
    assert features.numblocks == (3, 1)
    with distributed.get_task_stream(client) as tasks:
        result = features.compute()
    np.testing.assert_array_equal(result, ali.transform(X))
    # The three blocks were encoded by the cluster's worker processes.
    workers = client.scheduler_info()["workers"]
    blocks = [t for t in tasks.data if "transform" in str(t["key"])]
    assert len(blocks) == 3
    assert {t["worker"] for t in blocks} <= set(workers)
