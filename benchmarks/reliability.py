"""Bad inputs against the three estimators' public methods: outcome counts.

Each probe calls one public method (``fit``, ``partial_fit``, ``transform``,
``encode``, ``predict``, ``predict_proba``, ``score``, ``inverse_transform``,
``sample``, ``decode``) of a tiny model with one bad input or parameter and
files the outcome as

* ``clear``: a ValueError, TypeError, NotFittedError or
  TrainingDivergedError whose message is the package's own;
* ``ok``: a valid input (the probe says so), answered with finite values;
* ``obscure``: any other exception, or one passed through from numpy/torch
  (shape mismatches, "Expected more than 1 value per channel", ...);
* ``silent``: a bad input that returned a result, or a result with NaN/inf.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/reliability.py [--rows rows.tsv]

It prints one JSON line of counts per estimator; ``--rows`` writes every
probe's name, outcome and message. About a minute on one core.
"""

import argparse
import collections
import copy
import json
import os
import tempfile
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError

from sklearn_ali import (
    ALIClassifier,
    ALITransformer,
    ConditionalALI,
    TrainingDivergedError,
)

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--rows", help="write every probe's outcome to this TSV file")
args = parser.parse_args()
warnings.simplefilter("ignore")

d = load_digits()
IM = d.images[:120, None]
FL = IM.reshape(120, -1)
Y = d.target[:120]
YS = np.where(np.arange(120) < 40, Y, -1)
tiny = dict(
    n_components=4, hidden_layer_sizes=(16,), conv_width=8, max_epochs=1, random_state=0
)
fit_t = ALITransformer(**tiny).fit(IM)
fit_f = ALITransformer(**tiny).fit(FL)
fit_c = ALIClassifier(**tiny).fit(IM, YS)
fit_k = ConditionalALI(**tiny).fit(IM, Y)
fit_a = ConditionalALI(**tiny).fit(FL, np.c_[Y / 9.0, (Y % 2).astype(float)])


CLEAR = (ValueError, TypeError, NotFittedError, TrainingDivergedError)
counts = collections.Counter()
rows = []


def probe(family, name, fn, expect_error=True, check=None):
    try:
        out = fn()
    except CLEAR as e:
        msg = str(e)
        kind = "clear"
        if any(
            s in msg
            for s in (
                "mat1 and mat2",
                "Expected more than 1 value",
                "not supported between",
                "could not be promoted",
                "index",
                "object of type",
            )
        ) or type(e).__name__ in ("UFuncTypeError", "DTypePromotionError"):
            kind = "obscure"
    except Exception as e:
        kind = "obscure"
        msg = f"{type(e).__name__}: {e}"
    else:
        msg = ""
        bad = False
        arrs = out if isinstance(out, tuple) else (out,)
        for a in arrs:
            if (
                isinstance(a, np.ndarray)
                and a.dtype.kind == "f"
                and not np.isfinite(a).all()
            ):
                bad = True
        if check is not None and not check(out):
            bad = True
        kind = "silent" if (bad or expect_error) else "ok"
    counts[(family, kind)] += 1
    rows.append((family, name, kind, msg[:150]))


bad_X = {
    "nan": lambda X: np.where(np.arange(X.size).reshape(X.shape) == 5, np.nan, X),
    "inf": lambda X: np.where(np.arange(X.size).reshape(X.shape) == 5, np.inf, X),
    "huge": lambda X: X * 1e300 + 1e308,
    "str": lambda X: X.astype(str),
    "object": lambda X: X.astype(object),
    "complex": lambda X: X.astype(complex),
    "empty": lambda X: X[:0],
    "3d": lambda X: X.reshape(len(X), -1)[:, :, None],
    "5d": lambda X: (
        X.reshape(len(X), 1, 1, -1, 1)[..., None] if X.ndim == 2 else X[..., None]
    ),
    "flat_of_images": lambda X: X.reshape(len(X), -1),
    "images_of_flat": lambda X: X.reshape(len(X), 1, 8, 8),
    "wrong_width": lambda X: X.reshape(len(X), -1)[:, :50],
    "wrong_image": lambda X: np.zeros((len(X), 1, 9, 9)),
    "list_of_lists": lambda X: X.reshape(len(X), -1).tolist(),
    "scalar": lambda X: 3.0,
    "none": lambda X: None,
    "bool": lambda X: X > 4,
    "channels_last": lambda X: np.zeros((len(X), 8, 8, 1)),
}
# transform / encode / predict / predict_proba on fitted models
for fam, model, X0, meths in [
    ("ALITransformer", fit_t, IM, ["transform", "encode", "fit_transform"]),
    ("ALITransformer", fit_f, FL, ["transform", "encode"]),
    ("ALIClassifier", fit_c, IM, ["predict", "predict_proba", "transform", "score"]),
]:
    for mname in meths:
        for bname, f in bad_X.items():
            # Lists hold flat rows: valid where the model was fitted on rows.
            valid = (
                bname in ("bool", "object")
                or (bname == "list_of_lists" and X0.ndim == 2)
                or mname == "fit_transform"
                and bname
                in (
                    "huge",
                    "wrong_width",
                    "flat_of_images",
                    "wrong_image",
                    "list_of_lists",
                )
                or (bname == "images_of_flat" and X0.ndim == 4)
                or (bname == "flat_of_images" and X0.ndim == 2)
            )

            def call(m=mname, f=f, model=model, X0=X0):
                X = f(X0)
                meth = getattr(copy.deepcopy(model), m)
                if m == "score":
                    return meth(X, Y)
                return meth(X)

            probe(fam, f"{mname}({bname})", call, expect_error=not valid)
for fam, model, X0, y0 in [("ConditionalALI", fit_k, IM, Y)]:
    for bname, f in bad_X.items():
        valid = bname in ("bool", "object", "images_of_flat")
        probe(
            fam,
            f"encode({bname})",
            lambda f=f, model=model, X0=X0, y0=y0: copy.deepcopy(model).encode(
                f(X0), y0
            ),
            expect_error=not valid,
        )
# fit with bad X
for fam, cls, y in [
    ("ALITransformer", ALITransformer, None),
    ("ALIClassifier", ALIClassifier, YS),
    ("ConditionalALI", ConditionalALI, Y),
]:
    for bname, f in bad_X.items():
        if bname in ("flat_of_images", "images_of_flat", "bool", "wrong_width"):
            continue
        probe(
            fam,
            f"fit({bname})",
            expect_error=bname
            not in ("huge", "object", "list_of_lists", "wrong_image"),
            fn=lambda f=f, cls=cls, y=y: (
                cls(**tiny).fit(f(IM), y) if y is not None else cls(**tiny).fit(f(IM))
            ),
        )
# bad parameters
bad_params = dict(
    n_components=[0, -1, 2.5, True, "4", None, 10**12],
    hidden_layer_sizes=[(), (0,), (-3,), (2.5,), "16", None, [16, "a"]],
    conv_width=[0, -1, 1.5, True],
    max_epochs=[0, -1, 1.5, True, None],
    batch_size=[0, 1, -5, 2.5],
    learning_rate=[0, -1, np.nan, np.inf, "1e-3", True],
    betas=[(0.5,), (1.0, 0.9), (-0.1, 0.9), "ab", None],
    dropout=[-0.1, 1.0, 2, np.nan],
    reconstruction_weight=[-1, np.nan, np.inf],
    device=["xpu", "mps", "meta", "gpu", "cuda:7", 3, None],
    architecture=["foo", 3, "svhn"],
    image_shape=[(1, 8), (0, 8, 8), (1, 8, 9), "x"],
    encoder=["foo", None],
    features=["foo", None, 3],
    validation_fraction=[-0.1, 1.0, 0.999, np.nan],
    verbose=[-1, "a"],
    random_state=["a", -1, 2.5],
    callbacks=["a", [3], [("x", 3)]],
    distributed=["yes", 2],
    discriminator_learning_rate=[0, -1, np.nan],
    learning_rate_schedule=["cosine", None, "Linear"],
    warm_start=["a"],
    keep_on_device=["a"],
)
for fam, cls, X, y in [
    ("ALITransformer", ALITransformer, IM, None),
    ("ALIClassifier", ALIClassifier, IM, YS),
    ("ConditionalALI", ConditionalALI, IM, Y),
]:
    for p, vals in bad_params.items():
        if p == "features" and cls is ConditionalALI:
            continue
        for v in vals:

            def call(p=p, v=v, cls=cls, X=X, y=y):
                m = cls(**{**tiny, p: v})
                return m.fit(X, y) if y is not None else m.fit(X)

            valid = (
                p == "batch_size" and v == 1
            )  # 1 is refused? count as error expected
            probe(fam, f"param {p}={v!r}", call)
# set_params after fit then use
for p, v in [("features", "foo"), ("n_components", 0), ("random_state", "a")]:
    probe(
        "ALITransformer",
        f"set_params({p}={v!r}).transform",
        expect_error=p == "features",
        fn=lambda p=p, v=v: (
            copy.deepcopy(fit_t).set_params(**{p: v}).transform(IM)
            if p != "random_state"
            else copy.deepcopy(fit_t).set_params(**{p: v}).sample(3)
        ),
    )
# inverse_transform / sample / decode
Zs = {
    "nan": np.full((2, 4), np.nan),
    "inf": np.full((2, 4), np.inf),
    "huge": np.full((2, 4), 1e39),
    "wide": np.zeros((2, 5)),
    "1d": np.zeros(4),
    "str": np.zeros((2, 4)).astype(str),
    "empty": np.zeros((0, 4)),
    "none": None,
}
for bname, Z in Zs.items():
    probe(
        "ALITransformer",
        f"inverse_transform({bname})",
        expect_error=bname != "str",
        fn=lambda Z=Z: fit_t.inverse_transform(Z),
    )
    probe(
        "ConditionalALI",
        f"decode({bname})",
        expect_error=bname != "str",
        fn=lambda Z=Z: fit_k.decode(Z, 1),
    )
for n in [0, -1, 2.5, True, "3", None, np.nan]:
    probe("ALITransformer", f"sample({n!r})", lambda n=n: fit_t.sample(n))
    probe("ConditionalALI", f"sample({n!r})", lambda n=n: fit_k.sample(n, y=1))
for rs in ["a", -1, 2.5]:
    probe(
        "ALITransformer",
        f"sample(random_state={rs!r})",
        lambda rs=rs: fit_t.sample(2, random_state=rs),
    )
# labels
bad_y = {
    "nan": np.r_[YS[:-1], np.nan],
    "mixed": np.array([*YS[:-1].tolist(), "a"], dtype=object),
    "str_numpy": YS.astype(str),
    "short": YS[:-1],
    "2d": np.c_[YS, YS],
    "all_unlabelled": np.full(120, -1),
    "one_class": np.where(YS >= 0, 1, -1),
    "float_cont": np.linspace(0, 1, 120),
    "none": None,
    "bool": YS > 3,
}
for bname, y in bad_y.items():
    probe(
        "ALIClassifier",
        f"fit(y={bname})",
        lambda y=y: ALIClassifier(**tiny).fit(IM, y),
        expect_error=bname != "bool",
    )
    probe(
        "ALIClassifier",
        f"partial_fit(y={bname}) after fit",
        lambda y=y: copy.deepcopy(fit_c).partial_fit(IM, y),
        expect_error=bname not in ("bool", "all_unlabelled", "one_class"),
    )
for cl in [[*range(10), np.nan], ["a", 1], [], [1]]:
    probe(
        "ALIClassifier",
        f"partial_fit(classes={cl!r})",
        lambda cl=cl: ALIClassifier(**tiny).partial_fit(IM, YS, classes=cl),
    )
for lab in ["10", "2", True, 2.5, np.nan, None, [1, 2], np.array(["1", "3"]), 10, -1]:
    ok = isinstance(lab, list)
    probe(
        "ConditionalALI",
        f"sample(y={lab!r})",
        expect_error=not ok,
        fn=lambda lab=lab: fit_k.sample(2, y=lab),
    )
    probe(
        "ConditionalALI",
        f"decode(y={lab!r})",
        expect_error=not ok,
        fn=lambda lab=lab: fit_k.decode(np.zeros((2, 4)), lab),
    )
for bname, yy in {
    "beyond_f32": np.full((120, 2), 1e39),
    "edge_f32": np.c_[np.full(120, 3e38), np.zeros(120)],
    "nan": np.full((120, 2), np.nan),
    "3cols": np.zeros((120, 3)),
}.items():
    probe(
        "ConditionalALI",
        f"fit attrs {bname}",
        expect_error=bname != "3cols",
        fn=lambda yy=yy: ConditionalALI(**tiny).fit(FL, yy),
    )
    probe(
        "ConditionalALI",
        f"encode attrs {bname}",
        expect_error=bname not in ("edge_f32",),
        fn=lambda yy=yy: fit_a.encode(FL, yy),
    )
# training on
probe(
    "ALITransformer",
    "partial_fit(1 row) after fit",
    lambda: copy.deepcopy(fit_t).partial_fit(IM[:1]),
)
probe(
    "ALITransformer",
    "warm start hidden [16] after (16,)",
    lambda: (
        copy.deepcopy(fit_f)
        .set_params(warm_start=True, hidden_layer_sizes=[16])
        .fit(FL)
    ),
    expect_error=False,
)
probe(
    "ALITransformer",
    "warm start n_components change",
    lambda: copy.deepcopy(fit_f).set_params(warm_start=True, n_components=5).fit(FL),
)
probe(
    "ALITransformer",
    "partial_fit wrong width",
    lambda: copy.deepcopy(fit_f).partial_fit(FL[:, :10]),
)
probe(
    "ALITransformer",
    "lr=1e38 fit then transform",
    lambda: (
        ALITransformer(
            **{**tiny, "learning_rate": 1e38, "max_epochs": 3, "batch_size": 100}
        )
        .fit(FL[:100])
        .transform(FL[:100])
    ),
)
# memmap with NaN
mm = np.lib.format.open_memmap(
    os.path.join(tempfile.mkdtemp(), "x.npy"),
    mode="w+",
    dtype=np.float32,
    shape=FL.shape,
)
mm[:] = FL
mm[37, 3] = np.nan
probe(
    "ALITransformer",
    "fit(memmap with NaN)",
    lambda: ALITransformer(**tiny).fit(mm),
    check=None,
)
rows_nan = [r for r in rows if r[1] == "fit(memmap with NaN)"]
if rows_nan and rows_nan[0][2] == "clear" and "row 37" not in rows_nan[0][3]:
    counts[("ALITransformer", "clear")] -= 1
    counts[("ALITransformer", "obscure")] += 1
    rows[rows.index(rows_nan[0])] = (*rows_nan[0][:2], "obscure", rows_nan[0][3])
fams = sorted({f for f, _ in counts})
summary = {
    f: {k: counts[(f, k)] for k in ("clear", "ok", "obscure", "silent")} for f in fams
}
print(json.dumps(summary))
if args.rows:
    with open(args.rows, "w") as fh:
        for r in rows:
            fh.write("\t".join(str(v).replace("\n", " ") for v in r) + "\n")
