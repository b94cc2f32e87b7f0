"""
The ALI paper's semi-supervised protocol on SVHN or CIFAR-10
============================================================

For users with the data files and a GPU: :class:`~sklearn_ali.ALITransformer`
with the paper's networks for the data set learns features from the training
images without labels, and an L2-SVM (:class:`~sklearn.svm.LinearSVC`) trained
on 1,000 labelled images classifies them, with the protocol of the paper's
Table 1 (:func:`~sklearn_ali.evaluation.semi_supervised_score`). The paper
reports a test error of 19.14 +- 0.50 % on SVHN for ALI + L2-SVM.

The gallery shows this example without running it: it needs the SVHN or
CIFAR-10 files (about 240 MB or 170 MB, downloaded on request) and a GPU, as a
single SVHN epoch takes hours on a few CPU cores. It needs the ``plot`` extra
(``pip install "sklearn-ali[plot]"``).
"""

# The page is not run, so its thumbnail is a card drawn by
# docs/_static/svhn_cifar10_thumb.py.
# sphinx_gallery_thumbnail_path = "_static/svhn_cifar10_thumb.png"

# %%
# Settings
# --------
# ``DATASET`` is ``"svhn"`` or ``"cifar10"``. ``DATA_HOME`` is the folder
# with the data files: SVHN's ``train_32x32.mat`` and ``test_32x32.mat``, or
# CIFAR-10's extracted ``cifar-10-batches-py`` folder; ``None`` is the
# ``svhn`` or ``cifar10`` folder in scikit-learn's data home. With
# ``DOWNLOAD = True`` missing files are fetched from the official sites.
# ``MAX_EPOCHS = None`` keeps ALITransformer's default; the paper trains for
# 100 epochs on SVHN.

# sphinx_gallery_start_ignore
import os

# sphinx_gallery_end_ignore
import matplotlib.pyplot as plt
import numpy as np

from sklearn_ali import ALITransformer
from sklearn_ali.datasets import load_cifar10, load_svhn
from sklearn_ali.evaluation import semi_supervised_score
from sklearn_ali.plotting import plot_reconstructions, plot_samples

DATASET = "svhn"
DATA_HOME = None
DOWNLOAD = False
MAX_EPOCHS = None
# sphinx_gallery_start_ignore
if os.environ.get("SKLEARN_ALI_EXAMPLES_QUICK"):  # tests/test_examples.py
    MAX_EPOCHS = 1
# sphinx_gallery_end_ignore

# %%
# The data
# --------
# The official training and test splits. float32 images give float32
# features: the features of SVHN's 73,257 training images take about 1.6 GB,
# half what float64 would.
loader = load_svhn if DATASET == "svhn" else load_cifar10
# sphinx_gallery_start_ignore
if os.environ.get("SKLEARN_ALI_EXAMPLES_QUICK"):
    # Random images of the real shape and random labels: the error printed
    # is meaningless, but the code runs without the data files.
    def loader(data_home, split, download, return_X_y):
        n = 200 if split == "train" else 100
        rng = np.random.RandomState(0 if split == "train" else 1)
        X = rng.randint(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
        return X, np.arange(n) % 10


# sphinx_gallery_end_ignore
X_train, y_train = loader(DATA_HOME, "train", download=DOWNLOAD, return_X_y=True)
X_test, y_test = loader(DATA_HOME, "test", download=DOWNLOAD, return_X_y=True)
X_train, X_test = X_train.astype(np.float32), X_test.astype(np.float32)
print(
    f"{DATASET}: {len(X_train)} training and {len(X_test)} test images of "
    f"shape {X_train.shape[1:]}"
)

# %%
# Training and scoring
# --------------------
# ``architecture=DATASET`` selects the paper's networks, with 256 latent
# dimensions for SVHN and 64 for CIFAR-10; ``device="auto"`` trains on CUDA
# when available. The features are the encoder's hidden layers and latent
# mean (``features="hidden"``). The protocol holds 10,000 training images out
# to choose the SVM's C, draws 1,000 class-balanced labelled examples 100
# times, and reports the error on the test split as mean +- std. Given an
# unfitted transformer, ``semi_supervised_score`` fits a clone of it without
# labels on the training images and returns it.
ali = ALITransformer(
    architecture=DATASET,
    n_components=256 if DATASET == "svhn" else 64,
    features="hidden",
    device="auto",
    random_state=0,
    verbose=1,
)
if MAX_EPOCHS is not None:
    ali.set_params(max_epochs=MAX_EPOCHS)
protocol = dict(n_labeled=1000, n_repeats=100, validation_size=10_000)
# sphinx_gallery_start_ignore
if os.environ.get("SKLEARN_ALI_EXAMPLES_QUICK"):
    protocol = dict(
        n_labeled=100, n_repeats=2, validation_size=0.2, C_grid=(0.001, 0.01)
    )
    ali.set_params(verbose=0)
# sphinx_gallery_end_ignore
result = semi_supervised_score(
    ali, X_train, y_train, X_test=X_test, y_test=y_test, random_state=0, **protocol
)
ali = result.transformer
print(
    f"trained on {ali.device_!r} for {len(ali.history_)} epochs in "
    f"{result.fit_time:.1f} s; {result.n_features} features "
    f"({result.transform_time:.1f} s)"
)
print(
    f"L2-SVM with {result.n_labeled} labels, {result.n_repeats} draws, "
    f"C={result.best_C:g}: test error "
    f"{100 * result.mean_error:.2f} +- {100 * result.std_error:.2f} %"
)

# %%
# Training takes long, so keep the fitted model: ``joblib.dump(ali, path)``
# or, without pickle, ``sklearn_ali.io.dump(ali, path)`` (see
# :ref:`sphx_glr_auto_examples_plot_persistence.py`).
#
# Samples from the decoder, G(z) with z ~ N(0, I):
plot_samples(ali, 64, random_state=0)

# %%
# Test images (top) above their reconstructions G(E(x)):
plot_reconstructions(ali, X_test, n_cols=10)

# %%
plt.show()
