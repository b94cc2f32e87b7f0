"""Saving and loading fitted estimators without pickle.

:func:`dump` writes a fitted estimator to one `safetensors
<https://huggingface.co/docs/safetensors>`_ file and :func:`load` reads it
back. Unlike ``joblib``/``pickle`` files, loading never unpickles and never
runs code named by the file: the estimator class is looked up by name in a
fixed list of this package's estimators, its networks are rebuilt by the
estimator's own code from the stored parameters, and only then are the stored
weights copied in, after checking that every tensor is there with the shape
and dtype the rebuilt network expects.

What is stored
--------------
The estimator's parameters (``get_params()``), its fitted attributes, the
weights and buffers of its networks, the training history and, on request,
the optimizer's state. Two parameters are stored differently:

- ``callbacks`` is stored as ``None``: callbacks are arbitrary objects, so
  storing them would mean storing code. Set them again on the loaded model if
  it is to be trained further.
- ``device`` given as a ``torch.device`` is stored as its string.

File format, version 1
----------------------
A safetensors file whose string metadata holds one key, ``"sklearn_ali"``,
whose value is a JSON document::

    {
      "format": "sklearn-ali",
      "format_version": 1,
      "estimator": "ALITransformer",
      "versions": {"sklearn_ali": ..., "torch": ..., "scikit-learn": ...,
                   "skorch": ..., "numpy": ..., "safetensors": ...},
      "state": ...
    }

``state`` is the estimator's state (for every estimator of the package:
``params``, ``attributes``, ``modules``, ``history`` and optionally
``optimizers``) encoded as JSON. Numbers, strings, booleans, ``null``, lists
and objects with string keys stand for themselves; any other value is an
object with a single tag key:

``{"__float__": "nan" | "inf" | "-inf"}``
    A non-finite float (the JSON is strict: no ``NaN`` literals).
``{"__tuple__": [...]}``
    A tuple.
``{"__dict__": [[key, value], ...]}``
    A dict with keys that are not all strings (an optimizer's state is keyed
    by parameter index), or whose single key is a tag.
``{"__tensor__": "name"}``
    A torch tensor: the file's tensor ``name``.
``{"__ndarray__": "name"}``
    A numeric numpy array, stored as the file's tensor ``name``.
``{"__jsonarray__": {"dtype": "object" | "str", "shape": [...], "values": [...]}}``
    A numpy array of strings (such as ``feature_names_in_``), values in C
    order.
``{"__random_state__": {"key": [...], "pos": int, "has_gauss": int, "gauss": float}}``
    A ``numpy.random.RandomState``, as its Mersenne Twister state.

Tensors are named by their place in the state, for example
``modules/encoder_/blocks.0.weight`` or ``attributes/data_offset_``, and every
tensor of the file is referenced exactly once by the document. Parameters
missing from a file take their defaults, so files written before a parameter
existed still load; unknown parameters are an error.
"""

import json
import math
import os
import uuid
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import safetensors
import sklearn
import skorch
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from ._devices import resolve_device
from ._state import ESTIMATORS
from ._version import __version__

__all__ = ["dump", "load"]

FORMAT_NAME = "sklearn-ali"
FORMAT_VERSION = 1
# The safetensors metadata key holding the JSON document.
METADATA_KEY = "sklearn_ali"

# The only classes load() builds are the estimators that joined the registry
# ESTIMATORS (sklearn_ali._state.register). A file names one of its keys,
# never an import path: what a file can make load() run is fixed by the package.

_TAGS = frozenset(
    {
        "__float__",
        "__tuple__",
        "__dict__",
        "__tensor__",
        "__ndarray__",
        "__jsonarray__",
        "__random_state__",
    }
)


def dump(estimator, path, *, include_optimizer=False):
    """Save a fitted estimator to one safetensors file, without pickle.

    Parameters
    ----------
    estimator : ALITransformer, ALIClassifier or ConditionalALI
        A fitted estimator of this package.

    path : str or path-like
        File to write (conventionally ``*.safetensors``). It is replaced
        atomically: a failed ``dump`` leaves an existing file as it was.

    include_optimizer : bool, default=False
        Also store the optimizer's state, both players' Adam moments (twice
        the size of the weights). Without it the file holds only
        what ``transform``, ``inverse_transform`` and ``sample`` need, and
        training a loaded model further (``warm_start``) restarts Adam's
        moments from zero.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted.
    TypeError
        If the estimator is not one of this package's estimators.
    ValueError
        If a parameter or fitted attribute is not plain data (numbers,
        strings, lists, tuples, dicts, numpy arrays, tensors). ``callbacks``
        are never stored (see the module's documentation).

    See Also
    --------
    load : Read the file back.
    """
    cls = type(estimator)
    if ESTIMATORS.get(cls.__name__) is not cls:
        raise TypeError(
            f"sklearn_ali.io.dump saves {', '.join(ESTIMATORS)} estimators; "
            f"got {cls.__module__}.{cls.__qualname__}."
        )
    state = estimator._io_state(include_optimizer=include_optimizer)
    tensors = {}
    document = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "estimator": cls.__name__,
        "versions": _versions(),
        "state": _encode(state, (), tensors),
    }
    metadata = {
        METADATA_KEY: json.dumps(
            document, allow_nan=False, sort_keys=True, separators=(",", ":")
        )
    }
    # safetensors' save_file makes files readable by their owner only; the
    # bytes written by open() get the usual permissions, as joblib's do.
    data = save(tensors, metadata=metadata)
    path = Path(path)
    # Written beside the target and renamed over it, so that a failure leaves
    # no half-written file.
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load(path, device="cpu"):
    """Load an estimator saved by :func:`dump`, without pickle.

    Nothing in the file is unpickled or run: the class is one of this
    package's estimators, chosen by name; its networks are built by the
    package's code from the stored parameters; the stored tensors must then
    match those networks exactly (names, shapes, dtypes, finite values).

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`dump`.

    device : str or torch.device, default="cpu"
        Where to put the networks (``net_.device``); ``"auto"`` is CUDA when
        it is available and the CPU otherwise, as in ``fit``. ``device_``
        keeps the device training ran on.

    Returns
    -------
    estimator : ALITransformer, ALIClassifier or ConditionalALI
        The fitted estimator, networks in eval mode, with its training
        history and, if it was stored, its optimizer's state.
        ``callbacks`` is ``None``.

    Raises
    ------
    ValueError
        If the file is not a valid sklearn-ali file: not safetensors, no or
        malformed metadata, an unsupported format version, an unknown
        estimator class, missing, extra or misshapen tensors, non-finite
        weights, or parameters the estimator rejects. The message names the
        file and the problem. Also if ``device`` is not available.
    """
    device = _check_device(device)
    try:
        document, tensors = _read(path)
        cls = ESTIMATORS.get(document["estimator"])
        if cls is None:
            raise ValueError(
                f"unknown estimator class {document['estimator']!r}; this "
                f"version of sklearn-ali loads {', '.join(sorted(ESTIMATORS))}."
            )
        referenced = set()
        state = _decode(document["state"], tensors, referenced)
        extra = tensors.keys() - referenced
        if extra:
            raise ValueError(f"unexpected tensors {sorted(extra)} in the file.")
        return cls._from_io_state(state, device=device)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"Cannot load {os.fspath(path)!r}: {exc}") from exc


# -- reading ------------------------------------------------------------------


def _read(path):
    """The file's JSON document, checked at its top level, and its tensors."""
    try:
        with safe_open(os.fspath(path), framework="pt") as f:
            metadata = f.metadata() or {}
            names = f.keys()  # a list; the handle itself is not iterable
            tensors = {name: f.get_tensor(name) for name in names}
    except SafetensorError as exc:
        raise ValueError(f"not a safetensors file ({exc}).") from exc
    if METADATA_KEY not in metadata:
        raise ValueError(
            f"not an sklearn-ali file: its safetensors metadata has no "
            f"{METADATA_KEY!r} entry."
        )
    try:
        document = json.loads(metadata[METADATA_KEY], parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"its metadata is not valid JSON ({exc}).") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise ValueError(f"its metadata is not an {FORMAT_NAME} document.")
    version = document.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:
        versions = document.get("versions")
        writer = versions.get("sklearn_ali") if isinstance(versions, dict) else None
        raise ValueError(
            f"format version {version!r} is not supported; this version of "
            f"sklearn-ali reads format version {FORMAT_VERSION}"
            + (f" (the file was written by sklearn-ali {writer})." if writer else ".")
        )
    for key in ("estimator", "state"):
        if key not in document:
            raise ValueError(f"its metadata has no {key!r} entry.")
    if not isinstance(document["estimator"], str):
        raise ValueError("its 'estimator' entry is not a class name.")
    return document, tensors


def _no_constant(name):
    raise ValueError(f"{name} is not JSON (non-finite floats are tagged)")


def _check_device(device):
    # As fit checks it: what is no device, holds no data (meta) or is not
    # available here is refused before the file is read.
    device = resolve_device(device)
    if device == "cuda":
        device = str(torch.device("cuda", torch.cuda.current_device()))
    return device


def _versions():
    return {
        "sklearn_ali": __version__,
        "torch": torch.__version__,
        "scikit-learn": sklearn.__version__,
        "skorch": skorch.__version__,
        "numpy": np.__version__,
        "safetensors": safetensors.__version__,
    }


# -- the JSON encoding ----------------------------------------------------------


def _encode(value, path, tensors):
    """``value`` as JSON data; tensors and numeric arrays go into ``tensors``."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.generic) and value.ndim == 0 and value.dtype.kind in "biuf":
        value = value.item()  # numpy scalars become Python numbers
        if isinstance(value, bool):
            return value
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        value = float(value)
        if math.isfinite(value):
            return value
        return {"__float__": "nan" if math.isnan(value) else str(value)}
    if isinstance(value, tuple):
        return {
            "__tuple__": [_encode(v, (*path, i), tensors) for i, v in enumerate(value)]
        }
    if isinstance(value, list):
        return [_encode(v, (*path, i), tensors) for i, v in enumerate(value)]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and not (
            len(value) == 1 and next(iter(value)) in _TAGS
        ):
            return {k: _encode(v, (*path, k), tensors) for k, v in value.items()}
        return {
            "__dict__": [
                [_encode(k, path, tensors), _encode(v, (*path, k), tensors)]
                for k, v in value.items()
            ]
        }
    if torch.is_tensor(value):
        name = _tensor_name(path, tensors)
        # A copy: tensors sharing memory cannot be saved, and the model may
        # live on a GPU.
        tensors[name] = value.detach().to("cpu", copy=True).contiguous()
        return {"__tensor__": name}
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "OU":
            return _encode_json_array(value, path)
        try:
            # Not ascontiguousarray: it would make 0-d arrays 1-d.
            native = value.astype(value.dtype.newbyteorder("="), order="C", copy=False)
            tensor = torch.from_numpy(native)
        except TypeError as exc:
            raise ValueError(
                f"cannot store {_where(path)}: numpy arrays of dtype {value.dtype} "
                "have no tensor type."
            ) from exc
        name = _tensor_name(path, tensors)
        tensors[name] = tensor.clone()
        return {"__ndarray__": name}
    if isinstance(value, np.random.RandomState):
        state = value.get_state(legacy=False)
        return {
            "__random_state__": {
                "key": state["state"]["key"].tolist(),
                "pos": int(state["state"]["pos"]),
                "has_gauss": int(state["has_gauss"]),
                "gauss": float(state["gauss"]),
            }
        }
    raise ValueError(
        f"cannot store {_where(path)}: a {type(value).__qualname__} is not plain "
        "data (None, bool, int, float, str, list, tuple, dict, numpy array or "
        "scalar, torch tensor, RandomState)."
    )


def _encode_json_array(value, path):
    values = value.ravel().tolist()
    if value.dtype.kind == "O" and not all(
        v is None or isinstance(v, (bool, int, float, str)) for v in values
    ):
        raise ValueError(
            f"cannot store {_where(path)}: an object array holding other than "
            "numbers, strings or None."
        )
    return {
        "__jsonarray__": {
            "dtype": "object" if value.dtype.kind == "O" else "str",
            "shape": list(value.shape),
            "values": [_encode(v, path, {}) for v in values],
        }
    }


def _tensor_name(path, tensors):
    name = "/".join(str(p) for p in path)
    unique, n = name, 1
    while unique in tensors:
        unique, n = f"{name}#{n}", n + 1
    return unique


def _where(path):
    return "/".join(str(p) for p in path) or "the state"


def _decode(value, tensors, referenced):
    """Invert ``_encode``; record the names of the tensors used in ``referenced``."""
    try:
        return _decode_value(value, tensors, referenced)
    except RecursionError as exc:
        raise ValueError("its metadata is nested too deeply.") from exc


def _decode_value(value, tensors, referenced):
    if isinstance(value, list):
        return [_decode_value(v, tensors, referenced) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) != 1 or next(iter(value)) not in _TAGS:
        return {k: _decode_value(v, tensors, referenced) for k, v in value.items()}
    ((tag, content),) = value.items()
    if tag == "__float__":
        if content not in ("nan", "inf", "-inf"):
            raise ValueError(f"bad non-finite float {content!r} in the metadata.")
        return float(content)
    if tag == "__tuple__":
        if not isinstance(content, list):
            raise ValueError("a tuple in the metadata is not a list.")
        return tuple(_decode_value(v, tensors, referenced) for v in content)
    if tag == "__dict__":
        if not isinstance(content, list) or not all(
            isinstance(item, list) and len(item) == 2 for item in content
        ):
            raise ValueError("a dict in the metadata is not a list of pairs.")
        items = [_decode_value(item, tensors, referenced) for item in content]
        try:
            return dict(items)
        except TypeError as exc:  # an unhashable key
            raise ValueError(f"a dict in the metadata has a bad key ({exc}).") from exc
    if tag in ("__tensor__", "__ndarray__"):
        if not isinstance(content, str):
            raise ValueError(f"a tensor reference in the metadata is {content!r}.")
        if content not in tensors:
            raise ValueError(f"tensor {content!r} is missing from the file.")
        if content in referenced:
            raise ValueError(f"tensor {content!r} is referenced twice.")
        referenced.add(content)
        if tag == "__tensor__":
            return tensors[content]
        try:
            return tensors[content].numpy()
        except TypeError as exc:
            raise ValueError(f"tensor {content!r} is not a numpy array: {exc}") from exc
    if tag == "__jsonarray__":
        return _decode_json_array(content)
    return _decode_random_state(content)


def _decode_json_array(content):
    if not (
        isinstance(content, dict)
        and content.get("dtype") in ("object", "str")
        and isinstance(content.get("shape"), list)
        and all(isinstance(s, int) and s >= 0 for s in content["shape"])
        and isinstance(content.get("values"), list)
        and all(
            v is None or isinstance(v, (bool, int, float, str))
            for v in content["values"]
        )
        and len(content["values"]) == math.prod(content["shape"])
    ):
        raise ValueError("a string array in the metadata is malformed.")
    values = content["values"]
    if content["dtype"] == "str":
        return np.array(values, dtype=str).reshape(content["shape"])
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array.reshape(content["shape"])


def _decode_random_state(content):
    try:
        rng = np.random.RandomState()
        rng.set_state(
            {
                "bit_generator": "MT19937",
                "state": {
                    "key": np.array(content["key"], dtype=np.uint32),
                    "pos": content["pos"],
                },
                "has_gauss": content["has_gauss"],
                "gauss": content["gauss"],
            }
        )
    except (TypeError, KeyError, ValueError, OverflowError) as exc:
        raise ValueError(
            f"a RandomState in the metadata is malformed ({exc})."
        ) from exc
    return rng
