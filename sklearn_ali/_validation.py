"""Argument checks shared by the functional modules (datasets, evaluation)."""

import numbers

import numpy as np


def check_int(value, name, *, minimum):
    """Return ``value`` as an int, or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}.")
    return int(value)


def check_positive_float(value, name):
    """Return ``value`` as a positive finite float, or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r}.")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be positive and finite; got {value}.")
    return float(value)


def check_label_values(labels, name):
    """Refuse labels numpy cannot sort or that match no class: mixed strings
    and numbers (np.unique raises a bare TypeError), NaN (never equal to
    itself, so never found again)."""
    labels = np.asarray(labels)
    if labels.dtype == object:
        kinds = {isinstance(v, str) for v in labels.ravel()}
        if len(kinds) > 1:
            raise ValueError(
                f"{name} mixes strings and numbers; use labels of one kind "
                "(for example all str, or all int with -1 for unlabelled rows)."
            )
    if labels.dtype.kind in "fc" or labels.dtype == object:
        missing = [
            v
            for v in labels.ravel()
            if isinstance(v, numbers.Number) and not isinstance(v, bool) and v != v
        ]
        if missing:
            raise ValueError(f"{name} holds NaN; every label must be a class.")


def check_label_kind(labels, classes, name):
    """Refuse labels of another kind than the fitted classes.

    numpy compares across kinds by promotion (True == 1, a string with
    numbers as strings), which could map a label to a class it is not.
    """
    labels, classes = np.asarray(labels), np.asarray(classes)

    def kind(array):
        if array.dtype == object:
            kinds = {
                "str"
                if isinstance(v, str)
                else "bool"
                if isinstance(v, bool)
                else "number"
                for v in array.ravel()
            }
            return kinds.pop() if len(kinds) == 1 else "mixed"
        return {"U": "str", "S": "str", "b": "bool"}.get(array.dtype.kind, "number")

    if len(labels) and kind(labels) != kind(classes):
        raise ValueError(
            f"{name} holds labels of kind {kind(labels)!r} "
            f"({labels.ravel()[:5].tolist()}), but the classes seen in fit "
            f"are of kind {kind(classes)!r} ({classes[:5].tolist()})."
        )
