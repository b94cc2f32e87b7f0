"""The gallery in reading order (docs/conf.py's ``within_subsection_order``).

The main use first, then what a model shows, the other estimators, and the
tooling around them. A new example must be placed here: the build fails on
one that is not. A module of its own because Sphinx pickles its settings,
and a function defined in conf.py cannot be pickled.
"""

GALLERY_ORDER = [
    "plot_semi_supervised_mnist.py",
    "plot_samples_reconstructions.py",
    "plot_toy_mixture.py",
    "plot_classifier_mnist.py",
    "plot_conditional_digits.py",
    "plot_grid_search.py",
    "plot_persistence.py",
    "plot_onnx_export.py",
    "svhn_cifar10.py",
]


def reading_order(filename):
    if filename not in GALLERY_ORDER:
        raise ValueError(
            f"{filename} is not in docs/sphinxext/gallery_order.py's GALLERY_ORDER."
        )
    return GALLERY_ORDER.index(filename)
