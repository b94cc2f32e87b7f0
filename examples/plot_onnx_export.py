"""
Serving a fitted pipeline without PyTorch: ONNX export
======================================================

A pipeline that holds an :class:`~sklearn_ali.ALITransformer` needs PyTorch,
skorch and this package wherever it is unpickled. Converted to `ONNX
<https://onnx.ai>`_ with ``skl2onnx``, it needs only ``onnxruntime``: the
graph holds the encoder, exported by ``torch.onnx``, the scaling that ``fit``
learned and the linear SVM. This example converts the README's pipeline,
fitted on scikit-learn's 8x8 digits, checks that onnxruntime predicts what
the pipeline predicts, and compares the two on speed. It needs the ``onnx``
and ``plot`` extras (``pip install "sklearn-ali[onnx,plot]"``).
"""

# %%
# Fitting and converting
# ----------------------
# The digits are kept as images ``(n, 1, 8, 8)``, in float32: skl2onnx's
# ``LinearSVC`` converter takes float32 features only, and
# ``ALITransformer``'s features keep the input's float dtype.
# :func:`~sklearn_ali.onnx.register_converters` teaches skl2onnx this
# package's estimators; naming ``LinearSVC``'s options works around
# skl2onnx 1.20 giving it a ``zipmap`` option it refuses.

# sphinx_gallery_start_ignore
import os

# sphinx_gallery_end_ignore
import time

import matplotlib.pyplot as plt
import numpy as np
import onnxruntime as ort
from skl2onnx import to_onnx
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from sklearn_ali import ALITransformer
from sklearn_ali.onnx import register_converters

digits = load_digits()
X = digits.images[:, None].astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, digits.target, random_state=0)
ali = ALITransformer(random_state=0)
# sphinx_gallery_start_ignore
if os.environ.get("SKLEARN_ALI_EXAMPLES_QUICK"):  # tests/test_examples.py
    ali.set_params(max_epochs=1, n_components=8, conv_width=4)
# sphinx_gallery_end_ignore
pipe = Pipeline([("ali", ali), ("svm", LinearSVC())]).fit(X_train, y_train)

register_converters()
onx = to_onnx(pipe, X_train[:1], options={LinearSVC: {"nocl": False}})
model_bytes = onx.SerializeToString()  # what one writes to a .onnx file
print(f"ONNX pipeline: {len(model_bytes) / 1e6:.2f} MB")
session = ort.InferenceSession(model_bytes)
print("inputs:", [(i.name, i.type, i.shape) for i in session.get_inputs()])
print("outputs:", [(o.name, o.type) for o in session.get_outputs()])

# %%
# Running it in onnxruntime
# -------------------------
# The session above takes raw pixels shaped as ``fit`` saw them, for any number of
# rows, and returns skl2onnx's two classifier outputs: the label and the
# SVM's scores.
labels, scores = session.run(None, {"X": X_test})
expected = pipe.predict(X_test)
print(
    f"onnxruntime and pipeline.predict agree on {np.sum(labels == expected)} of "
    f"{len(X_test)} test digits; accuracy {np.mean(labels == y_test):.3f}"
)

fig, axes = plt.subplots(3, 8, figsize=(8, 3.6))
for ax, image, label, truth in zip(axes.flat, X_test, labels, y_test):
    ax.imshow(image[0], cmap="gray_r")
    ax.set_title(str(label), color="black" if label == truth else "tab:red")
    ax.set_axis_off()
fig.suptitle("Test digits and the labels onnxruntime predicts (red: wrong)")
fig.tight_layout()

# %%
# The features agree within float32 rounding
# ------------------------------------------
# The transformer converts on its own too; its graph computes ``transform``.
features_session = ort.InferenceSession(to_onnx(ali, X_train[:1]).SerializeToString())
features = features_session.run(None, {"X": X_test})[0]
reference = ali.transform(X_test)
print(
    f"{features.shape[1]} features per digit; largest difference from "
    f"transform: {np.abs(features - reference).max():.1e}"
)


def best_time(fn, repeats=5):
    fn()
    return min(_timed(fn) for _ in range(repeats))


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


print(
    f"transform of {len(X_test)} digits: PyTorch "
    f"{best_time(lambda: ali.transform(X_test)) * 1e3:.1f} ms, onnxruntime "
    f"{best_time(lambda: features_session.run(None, {'X': X_test})) * 1e3:.1f} ms"
)
plt.show()
