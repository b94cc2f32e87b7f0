"""
What ALI learns on MNIST: samples, reconstructions, interpolations
==================================================================

ALI learns two maps at once: a decoder G(z) that turns latent codes into
images and an encoder E(x) that maps images back to codes. This example fits
an :class:`~sklearn_ali.ALITransformer` on 4,500 digits of the MNIST subset
(:func:`~sklearn_ali.datasets.load_mnist_5k`) and looks at both with
:mod:`sklearn_ali.plotting`: samples from the decoder, held-out digits and
their reconstructions G(E(x)), straight lines in latent space decoded back to
images, and the training curves. It needs the ``datasets`` and ``plot``
extras.
"""

# sphinx_gallery_thumbnail_number = 2

# %%
# Fitting the model
# -----------------
# On images ALITransformer's training parameters default to ``"auto"``,
# which for its ``"conv"`` network means the settings of
# :class:`~sklearn_ali.ALIClassifier` (a learning rate falling linearly
# from 2e-3 to zero over 40 epochs, no spectral normalisation in the
# discriminator) with a cycle term of weight 20; ``training_params_`` shows
# them after the fit. On MNIST-5k they give a game closer to even, codes
# close to the prior, samples that are digits rather than stroke fragments
# with every class represented, and reconstructions that keep their class
# (see the benchmarks page). ``load_mnist_5k`` is sorted by class, so it is
# shuffled first; the last 500 digits are held out.

# sphinx_gallery_start_ignore
import os

# sphinx_gallery_end_ignore
import matplotlib.pyplot as plt
import numpy as np
from sklearn.neighbors import KNeighborsClassifier

from sklearn_ali import ALITransformer
from sklearn_ali.datasets import load_mnist_5k
from sklearn_ali.plotting import (
    plot_interpolations,
    plot_reconstructions,
    plot_samples,
    plot_training_curves,
)

n_train, n_test = 4500, 500
ali = ALITransformer(random_state=0)
# sphinx_gallery_start_ignore
if os.environ.get("SKLEARN_ALI_EXAMPLES_QUICK"):  # tests/test_examples.py
    n_train, n_test = 400, 100
    ali.set_params(n_components=16, conv_width=8, max_epochs=1)
# sphinx_gallery_end_ignore
mnist = load_mnist_5k()
order = np.random.RandomState(0).permutation(len(mnist.target))
images, target = mnist.images[order], mnist.target[order]
X_train, y_train = images[:n_train], target[:n_train]
X_test, y_test = images[n_train : n_train + n_test], target[n_train:][:n_test]

ali.fit(X_train)
print(ali.training_params_)

# %%
# Training curves
# ---------------
# The discriminator sees pairs (x, E(x)) from the encoder and (G(z), z) from
# the decoder. In a game that neither player wins its loss sits near
# log 4 = 1.39 and its accuracies near 0.5, the two kinds of pairs being hard
# to tell apart; accuracies near 1 mean the discriminator is winning, and
# what trains the encoder and decoder is then mostly the cycle term
# (``recon_loss``), the L1 distance between x and G(E(x)) that the default
# ``reconstruction_weight`` adds to the generators' loss. The last epoch's
# figures say which of the two this fit is. With the conv network's settings both
# accuracies settle near 0.7 once the learning rate has fallen: the
# discriminator keeps an edge without winning outright.
plot_training_curves(ali)
last = ali.history_[-1]
print(
    f"epoch {len(ali.history_)}: D accuracy on (x, E(x)) {last['d_real_acc']:.2f}, "
    f"on (G(z), z) {last['d_fake_acc']:.2f}, d_loss {last['d_loss']:.2f}"
)

# %%
# Samples
# -------
# 64 samples of ``ali.sample``: G(z) for codes z drawn from
# ``ali.code_mixture_``, a Gaussian mixture that ``fit`` fitted to the codes
# of the training digits. The encoder brings those codes close to the prior
# N(0, I), but not onto all of it: prior draws from where no digit's code
# lies decode to shapes between digits. ``codes="prior"`` draws from
# N(0, I) instead, each draw kept or rejected by the discriminator
# (discriminator rejection sampling), and ``codes="prior",
# discriminator_rejection=False`` gives the decoder's prior draws as they
# come.
plot_samples(ali, 64, random_state=0)

# %%
# Reconstructions
# ---------------
# Held-out digits (top) above G(E(x)) (bottom). The paper's ALI has no pixel
# loss; the cycle term pulls G(E(x)) towards x, but through a 64-number code
# and a decoder that must also fool the discriminator, so a reconstruction
# keeps the digit's identity and style rather than every pixel.
plot_reconstructions(ali, X_test, n_cols=12)

# %%
# Interpolations
# --------------
# Each row decodes a straight line in latent space between the codes of two
# held-out digits of different classes. A smooth latent space gives digits
# all the way, not blurred overlays.
starts = [np.flatnonzero(y_test == d)[0] for d in (0, 1, 2, 3, 4)]
ends = [np.flatnonzero(y_test == d)[0] for d in (6, 7, 5, 8, 9)]
plot_interpolations(ali, X_test[starts], X_test[ends], n_steps=10)

# %%
# Numbers behind the pictures
# ---------------------------
# A 1-nearest-neighbour classifier on the training pixels reads the class of
# held-out digits and of their reconstructions; the classes it sees among
# 1,000 samples show whether the model covers every digit (a collapsed
# decoder would produce few of them), for the three ways of drawing codes.
reconstructions = ali.inverse_transform(ali.encode(X_test))
knn = KNeighborsClassifier(n_neighbors=1).fit(X_train.reshape(n_train, -1), y_train)
mae = np.abs(reconstructions - X_test).mean()
mae_mean_image = np.abs(X_train.mean(axis=0) - X_test).mean()
print(
    f"mean absolute reconstruction error: {mae:.1f} "
    f"(pixels 0-255; the mean training image: {mae_mean_image:.1f})"
)
same = knn.predict(reconstructions.reshape(len(X_test), -1)) == y_test
print(
    f"1-NN reads the true class of {knn.score(X_test.reshape(n_test, -1), y_test):.1%}"
    f" of held-out digits and of {same.mean():.1%} of their reconstructions"
)
ways = {
    "samples": {},
    "prior draws kept by D": {"codes": "prior"},
    "prior draws": {"codes": "prior", "discriminator_rejection": False},
}
for which, options in ways.items():
    samples = ali.sample(1000, random_state=0, **options)
    counts = np.bincount(knn.predict(samples.reshape(len(samples), -1)), minlength=10)
    print(f"1-NN classes of 1,000 {which} (digits 0-9): {counts.tolist()}")

plt.show()
