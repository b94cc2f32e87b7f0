"""The ALI paper's semi-supervised protocols on SVHN and CIFAR-10, end to end.

Two protocols (``--protocol``), on SVHN or CIFAR-10 (``--dataset``):

``features`` (default): Table 1's "ALI + L2-SVM".

1. ``load_svhn(data_home, "train")`` and ``load_svhn(data_home, "test")``
   (the official ``train_32x32.mat`` and ``test_32x32.mat``), or
   ``load_cifar10`` (the official python batches); ``--download`` fetches
   missing files.
2. ``ALITransformer(architecture="svhn", n_components=256, features="hidden")``
   (for CIFAR-10 ``architecture="cifar10", n_components=64``) is fitted on
   the training images without their labels, on the GPU when there is one
   (``device="auto"``; the networks stay there for the feature extraction).
3. ``semi_supervised_score`` on the fitted model: 10,000 training images held
   out to choose the L2-SVM's C, LinearSVC (squared hinge) trained on 1,000
   class-balanced labelled images drawn from the rest, scored on the test
   images, for 100 random draws.

``labels-in-d``: Table 1's "ALI (ours, labels in D)" and the paper's CIFAR-10
table. For each label count and each of ``--n-repeats`` draws, an
``ALIClassifier`` with the same network is fitted on the whole training set
with a class-balanced labelled draw (every other image ``y == -1``) and
scored on the test images. Label counts: 1,000 for SVHN; 1,000, 2,000, 4,000
and 8,000 for CIFAR-10. Each draw is a full fit, so the default is 3 draws.

The paper (Dumoulin et al., ICLR 2017) reports, test error %:

- SVHN, 1,000 labels: ALI + L2-SVM 19.14 +- 0.50; labels in D 7.42 +- 0.65;
- CIFAR-10, labels in D: 19.98 +- 0.89 / 19.09 +- 0.44 / 17.99 +- 1.62 /
  17.05 +- 1.49 with 1k / 2k / 4k / 8k labels.

Targets: within the paper's error bars with the default 100 epochs. Each
data set runs through the paper's network for it: ``architecture="svhn"``
with a 256-d latent, ``architecture="cifar10"`` (maxout discriminator) with
a 64-d latent. A run needs a GPU (the paper's architectures train at a few
dozen images per second on a CPU) and about 3 GB of host memory.

``--synthetic`` (implied by ``--quick``) writes small random files in the
official formats to a temporary folder and reads them with the loaders, so
that the whole path runs without the data: SVHN's ``.mat`` files (``X`` of
shape (32, 32, 3, n), uint8; ``y`` of shape (n, 1) with 10 standing for the
digit 0) or CIFAR-10's pickled batches (``b"data"`` of shape (n, 3072),
uint8; ``b"labels"`` a list). The protocol then runs at 1/50 scale: 1 epoch,
label counts divided by 50 (20 for SVHN, 20 / 40 / 80 / 160 for CIFAR-10)
and 2 draws (1 for ``labels-in-d``). The errors printed are then
meaningless.

Usage::

    python benchmarks/svhn.py --data-home ~/data/svhn          # Table 1, features
    python benchmarks/svhn.py --data-home DIR --protocol labels-in-d
    python benchmarks/svhn.py --dataset cifar10 --data-home DIR --protocol labels-in-d
    python benchmarks/svhn.py --data-home DIR --download --max-epochs 50
    python benchmarks/svhn.py --quick                          # smoke run
    python benchmarks/svhn.py --quick --dataset cifar10 --protocol labels-in-d
"""

import argparse
import pickle
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from classifier import balanced_draw, masked

from sklearn_ali import ALIClassifier, ALITransformer
from sklearn_ali.datasets import load_cifar10, load_svhn
from sklearn_ali.evaluation import semi_supervised_score

SVHN_TRAIN_ROWS = 73_257
# The paper holds out 10,000 of the training images for model selection; the
# same fraction is used for other training set sizes.
VALIDATION_FRACTION = 10_000 / SVHN_TRAIN_ROWS
# The paper's test errors (%), by protocol, data set and label count.
PAPER = {
    ("features", "svhn"): {1000: "19.14 ± 0.50"},
    ("labels-in-d", "svhn"): {1000: "7.42 ± 0.65"},
    ("labels-in-d", "cifar10"): {
        1000: "19.98 ± 0.89",
        2000: "19.09 ± 0.44",
        4000: "17.99 ± 1.62",
        8000: "17.05 ± 1.49",
    },
}
LABEL_COUNTS = {"svhn": (1000,), "cifar10": (1000, 2000, 4000, 8000)}
# The paper's network and latent size for each data set.
NETWORKS = {
    "svhn": {"architecture": "svhn", "n_components": 256},
    "cifar10": {"architecture": "cifar10", "n_components": 64},
}
# Synthetic data runs the protocol at this fraction of the label counts.
SYNTHETIC_SCALE = 50
CIFAR10_BATCHES = (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch")


def write_synthetic_svhn(folder, n_train, n_test, seed):
    """Write random ``train_32x32.mat`` and ``test_32x32.mat`` to ``folder``."""
    from scipy.io import savemat

    rng = np.random.RandomState(seed)
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.randint(0, 256, size=(32, 32, 3, n), dtype=np.uint8)
        labels = _balanced_labels(n, rng)
        labels = np.where(labels == 0, 10, labels).astype(np.uint8)[:, None]
        savemat(Path(folder) / f"{split}_32x32.mat", {"X": images, "y": labels})


def write_synthetic_cifar10(folder, n_train, n_test, seed):
    """Write random CIFAR-10 python batches to ``folder/cifar-10-batches-py``.

    The training rows are split over ``data_batch_1`` to ``data_batch_5``.
    """
    rng = np.random.RandomState(seed)
    batches = Path(folder) / "cifar-10-batches-py"
    batches.mkdir()
    train = np.array_split(_balanced_labels(n_train, rng), 5)
    labels = dict(zip(CIFAR10_BATCHES, [*train, _balanced_labels(n_test, rng)]))
    for name in CIFAR10_BATCHES:
        batch = {
            b"batch_label": name.encode(),
            b"data": rng.randint(
                0, 256, size=(len(labels[name]), 3072), dtype=np.uint8
            ),
            b"labels": labels[name].tolist(),
        }
        with open(batches / name, "wb") as f:
            pickle.dump(batch, f)
    classes = "airplane automobile bird cat deer dog frog horse ship truck"
    names = [name.encode() for name in classes.split()]
    with open(batches / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": names, b"num_vis": 3072}, f)


def _balanced_labels(n, rng):
    """n labels 0-9, every class as often as n allows, in random order."""
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    return labels


def load(args, data_home):
    loader = load_svhn if args.dataset == "svhn" else load_cifar10
    X_train, y_train = loader(
        data_home, "train", download=args.download, return_X_y=True
    )
    X_test, y_test = loader(data_home, "test", download=args.download, return_X_y=True)
    return X_train, y_train, X_test, y_test


def fit_features(args, X_train, y_train, X_test, y_test):
    """Table 1's ALI + L2-SVM: an unsupervised fit, then the SVM protocol."""
    validation_rows = round(VALIDATION_FRACTION * len(X_train))
    print(f"# {validation_rows} training images held out to choose C")
    ali = ALITransformer(
        **NETWORKS[args.dataset],
        features="hidden",
        device=args.device,
        keep_on_device=True,
        max_epochs=args.max_epochs,
        verbose=int(args.verbose),
        random_state=args.seed,
    )
    start = time.perf_counter()
    ali.fit(X_train)  # no labels
    fit_time = time.perf_counter() - start
    print_fit(ali, fit_time)

    print_header("ALI + L2-SVM")
    for n_labeled in args.n_labeled:
        res = semi_supervised_score(
            ali,
            X_train,
            y_train,
            X_test=X_test,
            y_test=y_test,
            n_labeled=n_labeled,
            n_repeats=args.n_repeats,
            validation_size=validation_rows,
            random_state=args.seed,
        )
        print_row(
            args,
            "ALI + L2-SVM",
            n_labeled,
            100 * res.mean_error,
            100 * res.std_error,
            f"dim {res.n_features}, C {res.best_C:g}",
        )
        print(f"# features {res.transform_time:.0f} s (train and test)")


def fit_labels_in_d(args, X_train, y_train, X_test, y_test):
    """Labels in D: one ALIClassifier fit per label count and draw."""
    rng = np.random.RandomState(args.seed)
    rows = []
    for n_labeled in args.n_labeled:
        errors = []
        for draw in range(args.n_repeats):
            labeled = balanced_draw(y_train, n_labeled, rng)
            clf = ALIClassifier(
                **NETWORKS[args.dataset],
                device=args.device,
                keep_on_device=True,
                max_epochs=args.max_epochs,
                verbose=int(args.verbose),
                random_state=args.seed + draw,
            )
            start = time.perf_counter()
            clf.fit(X_train, masked(y_train, labeled))
            fit_time = time.perf_counter() - start
            print_fit(clf, fit_time, f"{n_labeled} labels, draw {draw}: ")
            errors.append(100 * (1 - clf.score(X_test, y_test)))
        rows.append((n_labeled, np.mean(errors), np.std(errors)))
    print_header("labels in D")
    for n_labeled, mean, std in rows:
        print_row(args, "labels in D", n_labeled, mean, std)


def print_fit(model, fit_time, prefix=""):
    last = model.history_[-1]
    print(
        f"# {prefix}fitted on {model.device_}, {len(model.history_)} epoch(s) in "
        f"{fit_time:.0f} s; last epoch d_loss {last['d_loss']:.3f}, "
        f"g_loss {last['g_loss']:.3f}, recon_loss {last['recon_loss']:.3f}"
    )


def print_header(model):
    print(
        f"\n{'model':<16}{'labels':>7}{'draws':>7}"
        f"{'test error % (mean ± std)':>28}{'paper':>15}"
    )


def print_row(args, model, n_labeled, mean, std, extra=""):
    # Synthetic runs are printed beside the paper's figure at full scale.
    full_scale = n_labeled * (SYNTHETIC_SCALE if args.synthetic else 1)
    paper = PAPER.get((args.protocol, args.dataset), {}).get(full_scale, "n/a")
    print(
        f"{model:<16}{n_labeled:>7}{args.n_repeats:>7}"
        f"{mean:>21.2f} ± {std:<4.2f}{paper:>15}" + (f"   {extra}" if extra else "")
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=["svhn", "cifar10"], default="svhn")
    parser.add_argument(
        "--protocol", choices=["features", "labels-in-d"], default="features"
    )
    parser.add_argument("--data-home", default=None, help="folder with the files")
    parser.add_argument("--download", action="store_true", help="fetch missing")
    parser.add_argument("--max-epochs", type=int, default=None, help="default 100")
    parser.add_argument(
        "--n-labeled",
        type=int,
        nargs="+",
        default=None,
        help="label counts; default the paper's (1000 for SVHN, 1k-8k for CIFAR-10)",
    )
    parser.add_argument(
        "--n-repeats",
        type=int,
        default=None,
        help="labelled draws; default 100 (features), 3 (labels-in-d)",
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", action="store_true", help="progress bar")
    parser.add_argument(
        "--synthetic", action="store_true", help="small random data, real format"
    )
    parser.add_argument("--quick", action="store_true", help="synthetic smoke run")
    args = parser.parse_args()
    args.synthetic = args.synthetic or args.quick
    labels_in_d = args.protocol == "labels-in-d"
    scale = SYNTHETIC_SCALE if args.synthetic else 1
    if args.n_labeled is None:
        args.n_labeled = [n // scale for n in LABEL_COUNTS[args.dataset]]
        if args.protocol == "features":
            args.n_labeled = args.n_labeled[:1]  # Table 1 reports 1,000 labels
    if args.max_epochs is None:
        args.max_epochs = 1 if args.synthetic else 100
    if args.n_repeats is None:
        args.n_repeats = (
            (1 if labels_in_d else 2) if args.synthetic else (3 if labels_in_d else 100)
        )

    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    name = (
        torch.cuda.get_device_name(device)
        if torch.device(device).type == "cuda"
        else platform.processor() or platform.machine()
    )
    print(
        f"# machine: {name}, torch threads {torch.get_num_threads()}, "
        f"torch {torch.__version__}"
    )
    fit = fit_labels_in_d if labels_in_d else fit_features
    title = "SVHN" if args.dataset == "svhn" else "CIFAR-10"

    def run(data_home):
        X_train, y_train, X_test, y_test = load(args, data_home)
        print(
            f"# {title} train {X_train.shape}, test {X_test.shape}; "
            f"protocol {args.protocol}"
        )
        fit(args, X_train, y_train, X_test, y_test)

    if not args.synthetic:
        run(args.data_home)
        return
    n_train, n_test = (200, 50) if args.quick else (2000, 1000)
    write = write_synthetic_svhn if args.dataset == "svhn" else write_synthetic_cifar10
    with tempfile.TemporaryDirectory() as folder:
        write(folder, n_train, n_test, args.seed)
        print(f"# synthetic {title} files ({n_train} train, {n_test} test) in {folder}")
        run(folder)


if __name__ == "__main__":
    main()
