"""ONNX export: skl2onnx converts the estimators, onnxruntime runs them alone.

Tiny models: what is checked is that the graph computes what the estimator
computes, not how good the model is.
"""

import subprocess
import sys

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from sklearn_ali import ALIClassifier, ALITransformer

skl2onnx = pytest.importorskip("skl2onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from sklearn_ali.onnx import register_converters  # noqa: E402

# skl2onnx 1.20 gives every classifier in a pipeline a "zipmap" option, which
# its LinearSVC converter refuses; naming LinearSVC's own options avoids it.
SVC_OPTIONS = {LinearSVC: {"nocl": False}}
TINY = {"max_epochs": 1, "n_components": 4, "random_state": 0}


@pytest.fixture(scope="module", autouse=True)
def converters():
    register_converters()


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300], y[:300]


def run(onx, X):
    session = ort.InferenceSession(onx.SerializeToString())
    return session.run(None, {session.get_inputs()[0].name: X})


@pytest.mark.parametrize(
    "params",
    [
        {"features": "hidden", "hidden_layer_sizes": (16, 16)},
        {"features": "mean", "hidden_layer_sizes": (16,)},
        # The conv net pools its maps with adaptive max pooling, which
        # torch.onnx cannot export; the export computes it by windows.
        {"features": "hidden", "image_shape": (1, 8, 8), "conv_width": 4},
        {"features": "mean", "image_shape": (1, 8, 8), "conv_width": 4},
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transform_matches_the_estimator(digits, params, dtype):
    X = digits[0].astype(dtype)
    ali = ALITransformer(**TINY, **params).fit(X)
    onx = skl2onnx.to_onnx(ali, X[:1])
    (features,) = run(onx, X)
    expected = ali.transform(X)
    assert features.dtype == expected.dtype == dtype
    assert features.shape == expected.shape
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-5)


def test_images_as_4d_arrays(digits):
    X = digits[0].reshape(-1, 1, 8, 8).astype(np.float32)
    ali = ALITransformer(**TINY, conv_width=4).fit(X)
    (features,) = run(skl2onnx.to_onnx(ali, X[:1]), X)
    np.testing.assert_allclose(features, ali.transform(X), rtol=1e-4, atol=1e-5)


def test_integer_pixels_give_float64_features(digits):
    X = digits[0].astype(np.int64)
    ali = ALITransformer(**TINY, image_shape=(1, 8, 8), conv_width=4).fit(X)
    (features,) = run(skl2onnx.to_onnx(ali, X[:1]), X)
    assert features.dtype == np.float64
    np.testing.assert_allclose(features, ali.transform(X), rtol=1e-4, atol=1e-5)


def test_batch_size_is_free(digits):
    X = digits[0].astype(np.float32)
    ali = ALITransformer(**TINY, hidden_layer_sizes=(8,)).fit(X)
    onx = skl2onnx.to_onnx(ali, X[:1])
    for n in (1, 2, 7):
        assert run(onx, X[:n])[0].shape == (n, ali.get_feature_names_out().size)


def test_pipeline_predicts_every_row_as_the_estimator():
    # The README's pipeline, on every row of MNIST-5k.
    from sklearn_ali.datasets import load_mnist_5k

    mnist = load_mnist_5k()
    X, y = mnist.data.astype(np.float32), mnist.target
    ali = ALITransformer(**TINY, image_shape=(1, 28, 28), conv_width=4)
    pipe = Pipeline([("ali", ali), ("svm", LinearSVC())]).fit(X[::10], y[::10])
    onx = skl2onnx.to_onnx(pipe, X[:1], options=SVC_OPTIONS)
    labels, scores = run(onx, X)
    np.testing.assert_array_equal(labels, pipe.predict(X))
    assert scores.shape == (len(X), 10)


@pytest.mark.parametrize("labels", ["int", "str"])
def test_classifier_predict_and_proba(digits, labels):
    X, y = digits
    if labels == "int":  # a third labelled, as in semi-supervised use
        y_fit = np.where(np.arange(len(y)) % 3 == 0, y, -1)
    else:  # string labels: object dtype, -1 still marks the unlabelled
        y_fit = np.array([f"digit {d}" for d in y], dtype=object)
        y_fit[np.arange(len(y)) % 3 != 0] = -1
    clf = ALIClassifier(**TINY, hidden_layer_sizes=(16,)).fit(X, y_fit)
    onx = skl2onnx.to_onnx(clf, X[:1], options={"zipmap": False})
    predicted, proba = run(onx, X)
    np.testing.assert_array_equal(predicted, clf.predict(X))
    np.testing.assert_allclose(proba, clf.predict_proba(X), rtol=1e-4, atol=1e-6)


def test_classifier_with_zipmap(digits):
    X, y = digits
    X = X.astype(np.float32)  # onnxruntime's ZipMap takes float32 only
    clf = ALIClassifier(**TINY, hidden_layer_sizes=(16,)).fit(X, y)
    predicted, proba = run(skl2onnx.to_onnx(clf, X[:1]), X[:5])
    np.testing.assert_array_equal(predicted, clf.predict(X[:5]))
    assert sorted(proba[0]) == sorted(int(c) for c in clf.classes_)


def test_sample_features_are_refused(digits):
    ali = ALITransformer(**TINY, features="sample", hidden_layer_sizes=(8,))
    ali.fit(digits[0])
    with pytest.raises(ValueError, match='features="hidden" or "mean"'):
        skl2onnx.to_onnx(ali, digits[0][:1])


def test_opset_below_the_exporters_is_refused(digits):
    ali = ALITransformer(**TINY, hidden_layer_sizes=(8,)).fit(digits[0])
    with pytest.raises(ValueError, match="target_opset>=18"):
        skl2onnx.to_onnx(ali, digits[0][:1], target_opset=17)


def test_export_leaves_the_model_as_it_was(digits):
    X = digits[0]
    ali = ALITransformer(**TINY, hidden_layer_sizes=(8,)).fit(X)
    before = ali.transform(X)
    ali.net_.module_.train()
    skl2onnx.to_onnx(ali, X[:1])
    assert ali.net_.module_.training
    np.testing.assert_array_equal(ali.transform(X), before)


def test_registering_twice_is_harmless(digits):
    register_converters()
    ali = ALITransformer(**TINY, hidden_layer_sizes=(8,)).fit(digits[0])
    assert run(skl2onnx.to_onnx(ali, digits[0][:1]), digits[0])[0].shape[0] == 300


def test_exported_pipeline_runs_without_torch(digits, tmp_path):
    X, y = digits
    X = X.astype(np.float32)
    pipe = Pipeline([("ali", ALITransformer(**TINY)), ("svm", LinearSVC())])
    pipe.fit(X, y)
    path = tmp_path / "pipeline.onnx"
    path.write_bytes(
        skl2onnx.to_onnx(pipe, X[:1], options=SVC_OPTIONS).SerializeToString()
    )
    np.save(tmp_path / "X.npy", X)
    code = (
        "import sys; sys.modules['torch'] = None  # any import of torch fails\n"
        "import numpy as np, onnxruntime as ort\n"
        f"s = ort.InferenceSession({str(path)!r})\n"
        f"X = np.load({str(tmp_path / 'X.npy')!r})\n"
        "np.save(sys.argv[1], s.run(None, {'X': X})[0])\n"
    )
    out = tmp_path / "labels.npy"
    subprocess.run([sys.executable, "-c", code, str(out)], check=True)
    np.testing.assert_array_equal(np.load(out), pipe.predict(X))
