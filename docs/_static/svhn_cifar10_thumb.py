"""Draw the gallery thumbnail of ``examples/svhn_cifar10.py``.

That example is shown without being run (it needs the data files and a
GPU), so it has no figure of its own; this card says what it does instead of
sphinx-gallery's placeholder. Run from the repository root after editing:
``python docs/_static/svhn_cifar10_thumb.py``.
"""

from pathlib import Path

import matplotlib.pyplot as plt

fig = plt.figure(figsize=(4, 3), dpi=100)
fig.patch.set_facecolor("white")
lines = [
    ("SVHN / CIFAR-10", 22, "bold", 0.80),
    ("the paper's protocol", 14, "normal", 0.64),
    ("ALI features  +  L2-SVM", 14, "normal", 0.46),
    ("1,000 labels", 14, "normal", 0.33),
    ("needs the data files and a GPU", 11, "normal", 0.15),
]
for text, size, weight, y in lines:
    fig.text(0.5, y, text, ha="center", va="center", fontsize=size, weight=weight)
fig.savefig(Path(__file__).with_suffix(".png"))
