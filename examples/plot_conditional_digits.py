"""
Conditional ALI on digits: the class from y, the style from z
=============================================================

:class:`~sklearn_ali.ConditionalALI` is fitted on scikit-learn's 8x8 digits,
conditioned on the digit. It shows the two figures of the ALI paper's
conditional experiment (section 4.4, Figure 7): a grid where the condition
changes along each column and the latent code z along each row, and a swap
that encodes a digit with its own label and decodes it as other digits. A
logistic regression trained on real digits then checks how often the
generated images show the digit they were asked for. The example needs the
``plot`` extra.
"""

# %%
# Fitting the model
# -----------------
# The images keep their shape ``(n, 1, 8, 8)``. The data are small (14
# batches an epoch), so many epochs are still few steps.

# sphinx_gallery_start_ignore
import os

# sphinx_gallery_end_ignore
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from sklearn_ali import ConditionalALI
from sklearn_ali.plotting import plot_condition_swap, plot_conditional_grid

digits = load_digits()
X_train, X_test, y_train, y_test = train_test_split(
    digits.images[:, None],
    digits.target,
    test_size=0.25,
    stratify=digits.target,
    random_state=0,
)
model = ConditionalALI(max_epochs=200, random_state=0)
# sphinx_gallery_start_ignore
if os.environ.get("SKLEARN_ALI_EXAMPLES_QUICK"):  # tests/test_examples.py
    model.set_params(max_epochs=1, conv_width=8, n_components=8)
# sphinx_gallery_end_ignore
model.fit(X_train, y_train)

# %%
# The conditional grid
# --------------------
# One row per digit, one column per latent draw z. Along a column z is fixed
# and only the condition changes, so the style (slant, stroke width) should
# stay while the digit changes.
plot_conditional_grid(model, range(10), n_cols=8, random_state=0)

# %%
# Swapping the condition
# ----------------------
# Test digits are encoded with their own label, z = encode(x, y), then
# decoded as other digits, decode(z, y').
plot_condition_swap(model, X_test, y_test, [0, 3, 5, 8], n_cols=10)

# %%
# Does the condition come through?
# --------------------------------
# A classifier of real digits reads the class of 200 samples (20 per digit),
# of the cycles decode(encode(x, y), y) and of the swaps to y + 1, next to its
# accuracy on the real test digits.
judge = LogisticRegression(max_iter=2000).fit(
    X_train.reshape(len(X_train), -1), y_train
)
conditions = np.repeat(np.arange(10), 20)
samples = model.sample(len(conditions), y=conditions, random_state=0)
codes = model.encode(X_test, y_test)
swapped = (y_test + 1) % 10
for name, images, truth in (
    ("samples", samples, conditions),
    ("cycles", model.decode(codes, y_test), y_test),
    ("swaps (y + 1)", model.decode(codes, swapped), swapped),
    ("real test digits", X_test, y_test),
):
    read = judge.predict(images.reshape(len(images), -1))
    print(f"{name:<18}{100 * np.mean(read == truth):6.1f} % read as their condition")

plt.show()
