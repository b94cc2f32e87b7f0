"""SVHN semi-supervised benchmark: the ALI paper's Table 1 protocol, end to end.

1. ``load_svhn(data_home, "train")`` and ``load_svhn(data_home, "test")``
   (the official ``train_32x32.mat`` and ``test_32x32.mat``; ``--download``
   fetches missing files).
2. ``ALITransformer(architecture="svhn", n_components=256, features="hidden")``
   is fitted on the 73,257 training images without their labels, on the GPU
   when there is one (``device="auto"``; the networks stay there for the
   feature extraction).
3. ``semi_supervised_score`` on the fitted model: 10,000 training images held
   out to choose the L2-SVM's C, LinearSVC (squared hinge) trained on 1,000
   class-balanced labelled images drawn from the rest, scored on the 26,032
   test images, for 100 random draws.

The paper (Dumoulin et al., ICLR 2017, Table 1) reports a test error of
19.14 +- 0.50 % for ALI + L2-SVM with 1,000 labels.

Target: test error within the paper's error bar (<= 19.64 %) with the default
100 epochs. A run needs a GPU (the paper's architecture trains at a few dozen
images per second on a CPU) and about 3 GB of host memory.

``--synthetic`` (implied by ``--quick``) writes small random ``.mat`` files in
the official SVHN format (``X`` of shape (32, 32, 3, n), uint8; ``y`` of shape
(n, 1) with 10 standing for the digit 0) to a temporary folder and reads them
with ``load_svhn``, so that the whole path runs without the data; it defaults
to 1 epoch, 20 labels and 2 draws. The error printed is then meaningless.

Usage::

    python benchmarks/svhn.py --data-home ~/data/svhn          # full protocol
    python benchmarks/svhn.py --data-home DIR --download --max-epochs 50
    python benchmarks/svhn.py --quick                          # smoke run
"""

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from sklearn_ali import ALITransformer
from sklearn_ali.datasets import load_svhn
from sklearn_ali.evaluation import semi_supervised_score

SVHN_TRAIN_ROWS = 73_257
# The paper holds out 10,000 of the training images for model selection; the
# same fraction is used for other (synthetic) training set sizes.
VALIDATION_FRACTION = 10_000 / SVHN_TRAIN_ROWS
PAPER = "19.14 ± 0.50"


def write_synthetic_svhn(folder, n_train, n_test, seed):
    """Write random ``train_32x32.mat`` and ``test_32x32.mat`` to ``folder``."""
    from scipy.io import savemat

    rng = np.random.RandomState(seed)
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.randint(0, 256, size=(32, 32, 3, n), dtype=np.uint8)
        digits = np.arange(n) % 10  # every class, balanced
        rng.shuffle(digits)
        labels = np.where(digits == 0, 10, digits).astype(np.uint8)[:, None]
        savemat(Path(folder) / f"{split}_32x32.mat", {"X": images, "y": labels})


def run(args, data_home):
    X_train, y_train = load_svhn(
        data_home, "train", download=args.download, return_X_y=True
    )
    X_test, y_test = load_svhn(
        data_home, "test", download=args.download, return_X_y=True
    )
    validation_rows = round(VALIDATION_FRACTION * len(X_train))
    print(
        f"# SVHN train {X_train.shape}, test {X_test.shape}; "
        f"{validation_rows} training images held out to choose C"
    )

    ali = ALITransformer(
        architecture="svhn",
        n_components=256,
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
    last = ali.history_[-1]
    print(
        f"# fitted on {ali.device_}, {len(ali.history_)} epoch(s) in {fit_time:.0f} s; "
        f"last epoch d_loss {last['d_loss']:.3f}, g_loss {last['g_loss']:.3f}, "
        f"recon_loss {last['recon_loss']:.3f}"
    )

    res = semi_supervised_score(
        ali,
        X_train,
        y_train,
        X_test=X_test,
        y_test=y_test,
        n_labeled=args.n_labeled,
        n_repeats=args.n_repeats,
        validation_size=validation_rows,
        random_state=args.seed,
    )
    print(
        f"\n{'model':<16}{'labels':>7}{'draws':>7}{'dim':>7}{'C':>8}"
        f"{'test error % (mean ± std)':>28}{'paper':>15}"
    )
    print(
        f"{'ALI + L2-SVM':<16}{res.n_labeled:>7}{res.n_repeats:>7}"
        f"{res.n_features:>7}{res.best_C:>8g}"
        f"{100 * res.mean_error:>21.2f} ± {100 * res.std_error:<4.2f}{PAPER:>15}"
    )
    print(
        f"\nfit {fit_time:.0f} s, features {res.transform_time:.0f} s (train and test)"
    )
    return res


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", default=None, help="folder with the .mat files")
    parser.add_argument("--download", action="store_true", help="fetch missing")
    parser.add_argument("--max-epochs", type=int, default=None, help="default 100")
    parser.add_argument("--n-labeled", type=int, default=None, help="default 1000")
    parser.add_argument("--n-repeats", type=int, default=None, help="default 100")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", action="store_true", help="progress bar")
    parser.add_argument(
        "--synthetic", action="store_true", help="small random data, real format"
    )
    parser.add_argument("--quick", action="store_true", help="synthetic smoke run")
    args = parser.parse_args()
    args.synthetic = args.synthetic or args.quick
    small = (1, 20, 2) if args.synthetic else (100, 1000, 100)
    for name, default in zip(("max_epochs", "n_labeled", "n_repeats"), small):
        if getattr(args, name) is None:
            setattr(args, name, default)

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

    if not args.synthetic:
        run(args, args.data_home)
        return
    n_train, n_test = (100, 50) if args.quick else (2000, 1000)
    with tempfile.TemporaryDirectory() as folder:
        write_synthetic_svhn(folder, n_train, n_test, args.seed)
        print(f"# synthetic SVHN files ({n_train} train, {n_test} test) in {folder}")
        run(args, folder)


if __name__ == "__main__":
    main()
