"""The README's pipeline in ONNX: size, agreement and speed beside the estimator.

A default ``ALITransformer`` followed by ``LinearSVC`` is fitted on 4,000
MNIST-5k digits (float32 rows, ``image_shape=(1, 28, 28)``) and all their
labels, then converted with ``skl2onnx.to_onnx`` after
``sklearn_ali.onnx.register_converters()``. The script prints

- the conversion time and the sizes of the ONNX files (the pipeline, and the
  transformer alone) beside the estimator's own formats (``sklearn_ali.io``'s
  safetensors file, a joblib pickle);
- agreement on all 5,000 digits: the labels of ``pipeline.predict`` against
  onnxruntime's (the count of differing rows), and the largest difference of
  ``transform``'s features;
- the time of ``transform`` (the estimator, PyTorch) and of the transformer's
  ONNX graph (onnxruntime, as many intra-op threads as torch has) on the
  5,000 digits, the best of ``--repeats`` calls after a warm-up.

Usage::

    python benchmarks/onnx_export.py               # default fit, about a minute
    python benchmarks/onnx_export.py --quick       # tiny model, seconds
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
import onnxruntime as ort
import torch
from semi_supervised import machine_line
from skl2onnx import to_onnx
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

import sklearn_ali.io
from sklearn_ali import ALITransformer
from sklearn_ali.datasets import load_mnist_5k
from sklearn_ali.onnx import register_converters

# skl2onnx 1.20 gives a pipeline's LinearSVC a "zipmap" option it then refuses
# unless LinearSVC's own options are named (see the user guide).
SVC_OPTIONS = {LinearSVC: {"nocl": False}}


def best_time(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def session(onx):
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    return ort.InferenceSession(onx.SerializeToString(), options)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    args = parser.parse_args()

    mnist = load_mnist_5k()
    X = mnist.data.astype(np.float32)
    y = mnist.target
    order = np.random.RandomState(args.seed).permutation(len(X))
    train = order[:4000]
    params = {"image_shape": (1, 28, 28), "random_state": args.seed}
    if args.quick:
        train = train[:300]
        params.update(max_epochs=1, n_components=8, conv_width=4)
        args.repeats = 1
    print(machine_line())
    print(
        f"# MNIST-5k: pipeline fitted on {len(train)} float32 rows, checked and "
        f"timed on all {len(X)}; ALITransformer({params}) + LinearSVC(); "
        f"onnxruntime {ort.__version__}, {torch.get_num_threads()} intra-op threads"
    )

    register_converters()
    start = time.perf_counter()
    pipe = Pipeline([("ali", ALITransformer(**params)), ("svm", LinearSVC())])
    pipe.fit(X[train], y[train])
    fit_s = time.perf_counter() - start
    ali = pipe.named_steps["ali"]

    start = time.perf_counter()
    onx_pipe = to_onnx(pipe, X[:1], options=SVC_OPTIONS)
    convert_s = time.perf_counter() - start
    onx_ali = to_onnx(ali, X[:1])

    with tempfile.TemporaryDirectory() as folder:
        sizes = {}
        for name, write in [
            ("pipeline.onnx", lambda p: p.write_bytes(onx_pipe.SerializeToString())),
            ("transformer.onnx", lambda p: p.write_bytes(onx_ali.SerializeToString())),
            ("transformer.safetensors", lambda p: sklearn_ali.io.dump(ali, p)),
            ("pipeline.joblib", lambda p: joblib.dump(pipe, p)),
        ]:
            path = Path(folder, name)
            write(path)
            sizes[name] = os.path.getsize(path) / 1e6

    pipe_session, ali_session = session(onx_pipe), session(onx_ali)
    labels = pipe_session.run(None, {"X": X})[0]
    expected = pipe.predict(X)
    features = ali_session.run(None, {"X": X})[0]
    reference = ali.transform(X)

    torch_s = best_time(lambda: ali.transform(X), args.repeats)
    onnx_s = best_time(lambda: ali_session.run(None, {"X": X}), args.repeats)

    print(f"\nfit {fit_s:.1f} s, to_onnx {convert_s:.1f} s")
    print("\nfile                       MB")
    for name, size in sizes.items():
        print(f"{name:<24} {size:5.2f}")
    print(
        f"\nagreement on {len(X)} rows: predict differs on "
        f"{int((labels != expected).sum())} rows; transform's largest difference "
        f"{np.abs(features - reference).max():.2e} (features up to "
        f"{np.abs(reference).max():.1f})"
    )
    print(f"\ntransform of {len(X)} rows ({reference.shape[1]} features)   s   rows/s")
    for name, seconds in [
        ("estimator (PyTorch)", torch_s),
        ("ONNX (onnxruntime)", onnx_s),
    ]:
        print(f"{name:<38} {seconds:6.3f} {len(X) / seconds:8.0f}")


if __name__ == "__main__":
    main()
