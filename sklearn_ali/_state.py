"""Fitted-state persistence of the ALI estimators: what ``sklearn_ali.io`` stores.

``ESTIMATORS`` is the registry of the classes ``io.load`` may build, which
the estimators join with ``@register``: a file names one of its keys, never
an import path. ``PersistenceMixin`` turns a fitted model into plain data and
tensors and back, checking every stored value against what ``fit`` would
have built, before anything is allocated in proportion to it.
"""

import math

import numpy as np
import torch
from sklearn.utils._param_validation import make_constraint
from sklearn.utils.validation import check_is_fitted
from skorch.history import History

from ._checks import (
    LATER_TRAINING_PARAMS,
    NUMERIC_PARAMS,
    TRAINING_PARAMS,
    is_auto,
    structure_value,
)
from ._devices import SEED_BOUND, seeded_torch
from ._mixture import check_code_mixture
from .networks import ARCHITECTURES

# The only classes io.load builds, by name.
ESTIMATORS = {}


def register(cls):
    """Class decorator: ``cls`` may be saved and loaded by ``sklearn_ali.io``."""
    ESTIMATORS[cls.__name__] = cls
    return cls


class PersistenceMixin:
    """The hooks of ``sklearn_ali.io``: what a fitted model is made of is known
    only here; io writes what ``_io_state`` returns and hands it back to
    ``_from_io_state``."""

    # Attributes of net_: the trained networks and their optimizers.
    _io_modules = ("encoder_", "decoder_", "discriminator_")

    _io_optimizers = ("optimizer_",)

    def _io_state(self, *, include_optimizer=False):
        """This fitted model as data and tensors, for ``sklearn_ali.io.dump``.

        A dict of ``params`` (``get_params()``, with ``callbacks`` None
        because callbacks are code, and a ``torch.device`` as its string),
        ``attributes`` (every instance attribute ending in ``_`` but
        ``net_``), ``modules`` (the state dicts of ``net_``'s networks),
        ``history`` (``net_.history`` as a list) and, with
        ``include_optimizer``, ``optimizers`` (the state dicts of ``net_``'s
        optimizers).
        """
        check_is_fitted(self)
        params = self.get_params(deep=False)
        if callable(params["architecture"]):
            raise ValueError(
                "sklearn_ali.io stores architectures by name, and this model was "
                f"built by architecture={params['architecture']!r}, a builder of "
                "its own: persist it with joblib.dump, which stores the builder "
                "by reference (and needs it importable where the model loads)."
            )
        params["callbacks"] = None
        if isinstance(params["device"], torch.device):
            params["device"] = str(params["device"])
        net = self.net_
        state = {
            "params": params,
            "attributes": {
                name: value
                for name, value in vars(self).items()
                if name.endswith("_") and name != "net_"
            },
            "modules": {
                name: getattr(net, name).state_dict() for name in self._io_modules
            },
            "history": net.history.to_list(),
        }
        if include_optimizer:
            state["optimizers"] = {
                name: getattr(net, name).state_dict() for name in self._io_optimizers
            }
        return state

    @classmethod
    def _from_io_state(cls, state, *, device):
        """The fitted model an ``_io_state`` dict describes, for ``io.load``.

        The estimator is constructed from the stored parameters and validated,
        the fitted attributes are checked and set, the networks and ``net_``
        are built as ``fit`` builds them (``net_`` on ``device``, initialised)
        and the stored weights, history and optimizer state copied in.
        Raises ValueError on anything missing or inconsistent.
        """
        check_layout(
            state,
            {"params": dict, "attributes": dict, "modules": dict, "history": list},
            optional={"optimizers": dict},
        )
        unknown = state["params"].keys() - set(cls._get_param_names())
        if unknown:
            raise ValueError(f"unknown parameters {sorted(unknown)}.")
        model = cls(**state["params"])
        model._validate_params()
        model._check_params()
        cls._check_io_attributes(state["attributes"])
        vars(model).update(state["attributes"])
        if "training_params_" not in state["attributes"]:
            # Written before "auto" existed, when the parameters held the values.
            model.training_params_ = model._resolve_training_params()
        elif not set(LATER_TRAINING_PARAMS) <= model.training_params_.keys():
            # Written before these took "auto": the parameters hold the values.
            model.training_params_ = {
                **model.training_params_,
                **{name: getattr(model, name) for name in LATER_TRAINING_PARAMS},
            }
            cls._check_io_training_params(model.training_params_)
        if not all(isinstance(row, dict) for row in state["history"]):
            raise ValueError("the stored history is not a list of dicts.")
        stored = {"modules": cls._io_modules, "optimizers": cls._io_optimizers}
        for key, names in stored.items():
            if key in state and state[key].keys() != set(names):
                raise ValueError(
                    f"the stored {key} are {sorted(state[key])}; expected "
                    f"{sorted(names)}."
                )

        model._check_io_private_attributes(state["attributes"])
        # The stored tensors are checked against networks built on the meta
        # device first: tampered sizes must not allocate what they name.
        with torch.device("meta"):
            networks = model._build_networks()
        for name, network in zip(cls._io_modules, networks):
            where = f"modules/{name}"
            stored = state["modules"][name]
            check_module_state(network.state_dict(), stored, where)
        if "code_mixture_" in state["attributes"]:  # older files lack it
            check_code_mixture(model.code_mixture_, model.n_components_)
        # The weights drawn here are overwritten; the caller's torch RNG is
        # left as it was.
        with seeded_torch(0, "cpu"):
            net = model._make_net(*model._build_networks())
            net.device = device
            net.initialize()
        model.net_ = net
        for name in cls._io_modules:
            module = getattr(net, name)
            load_module_state(module, state["modules"][name], f"modules/{name}")
            module.eval()
        for name, optimizer_state in state.get("optimizers", {}).items():
            load_optimizer_state(
                getattr(net, name), optimizer_state, f"optimizers/{name}"
            )
        net.history = History(state["history"])
        model._check_finite_outputs()
        return model

    def _check_io_private_attributes(self, attributes):
        """Raise ValueError unless the seed and structure are what fit sets."""
        seed = attributes.get("_seed_", 0)
        if type(seed) is not int or not 0 <= seed < SEED_BOUND:
            raise ValueError(
                f"fitted attribute _seed_={seed!r} is not an int in [0, {SEED_BOUND})."
            )
        if "_structure_" in attributes:
            stored = attributes["_structure_"]
            expected = self._structure()
            if not isinstance(stored, dict) or stored.keys() != expected.keys():
                raise ValueError(
                    f"fitted attribute _structure_={stored!r} does not name the "
                    f"structural parameters {sorted(expected)}."
                )
            changed = [
                name
                for name, value in expected.items()
                if structure_value(value) != structure_value(stored[name])
            ]
            if changed:
                raise ValueError(
                    f"fitted attribute _structure_ disagrees with the stored "
                    f"parameters on {changed}."
                )

    def _check_finite_outputs(self):
        """Raise ValueError unless the networks map finite inputs to finite
        outputs: weights that are finite can still be invalid together."""
        device = self._module_device()
        x = torch.zeros(2, *self._network_input_shape(), device=device)
        z = torch.zeros(2, self.n_components_, device=device)
        with torch.inference_mode():
            outputs = self._probe_networks(x, z)
        for network, out in outputs.items():
            if not torch.isfinite(out).all():
                raise ValueError(
                    f"the stored {network} gives NaN or infinite outputs for "
                    "finite inputs: its weights are diverged or were tampered "
                    "with."
                )

    def _probe_networks(self, x, z):
        """Outputs of the encoder and decoder for inputs ``x`` and codes ``z``."""
        return {
            "encoder": self.net_.encoder_.mean(x),
            "decoder": self.net_.decoder_(z),
        }

    @classmethod
    def _check_io_attributes(cls, attributes):
        """Raise ValueError unless these could be the fitted attributes of fit."""
        bad = [
            name
            for name in attributes
            if not name.isidentifier()
            or not name.endswith("_")
            or name.startswith("__")
            or name == "net_"
            or hasattr(cls, name)  # the properties encoder_, history_, ...
        ]
        if bad:
            raise ValueError(f"{bad} cannot be fitted attributes.")
        required = (
            "n_features_in_",
            "image_shape_",
            "_input_ndim_",
            "architecture_",
            "data_offset_",
            "data_scale_",
            "device_",
        )
        missing = [name for name in required if name not in attributes]
        if missing:
            raise ValueError(f"the fitted attributes {missing} are missing.")

        def check(name, ok, expected):
            if not ok:
                raise ValueError(
                    f"fitted attribute {name}={attributes[name]!r} is not {expected}."
                )

        n = attributes["n_features_in_"]
        check("n_features_in_", type(n) is int and n > 0, "a positive int")
        shape = attributes["image_shape_"]
        check(
            "image_shape_",
            shape is None
            or (
                type(shape) is tuple
                and len(shape) == 3
                and all(type(s) is int and s > 0 for s in shape)
                and math.prod(shape) == n
            ),
            f"None or (C, H, W) with C*H*W = n_features_in_ = {n}",
        )
        ndims = (2,) if shape is None else (2, 4)
        check("_input_ndim_", attributes["_input_ndim_"] in ndims, f"in {ndims}")
        archs = ("mlp",) if shape is None else tuple(ARCHITECTURES)
        check("architecture_", attributes["architecture_"] in archs, f"in {archs}")
        scaling_shape = (n,) if shape is None else ()
        for name in ("data_offset_", "data_scale_"):
            value = attributes[name]
            check(
                name,
                isinstance(value, np.ndarray)
                and value.dtype == np.float64
                and value.shape == scaling_shape
                and np.isfinite(value).all()
                and (name == "data_offset_" or (value > 0).all()),
                f"a finite float64 array of shape {scaling_shape}"
                + (", positive" if name == "data_scale_" else ""),
            )
        check("device_", isinstance(attributes["device_"], str), "a string")
        if "feature_names_in_" in attributes:
            names = attributes["feature_names_in_"]
            check(
                "feature_names_in_",
                isinstance(names, np.ndarray)
                and names.dtype == object
                and names.shape == (n,)
                and all(isinstance(s, str) for s in names),
                f"an object array of {n} strings",
            )
        if "training_params_" in attributes:  # older files lack it
            cls._check_io_training_params(attributes["training_params_"])

    @classmethod
    def _check_io_training_params(cls, stored):
        """Raise ValueError unless ``stored`` could be fit's ``training_params_``:
        a value for each of ``TRAINING_PARAMS`` that the parameter takes,
        ``"auto"`` resolved."""
        older = set(TRAINING_PARAMS) - set(LATER_TRAINING_PARAMS)
        if not isinstance(stored, dict) or set(stored) not in (
            set(TRAINING_PARAMS),
            older,
        ):
            raise ValueError(
                f"fitted attribute training_params_={stored!r} is not a dict of "
                f"{list(TRAINING_PARAMS)}."
            )
        for name, value in stored.items():
            ok = not is_auto(value) and not (
                name in NUMERIC_PARAMS and isinstance(value, (bool, np.bool_))
            )
            ok = ok and any(
                c.is_satisfied_by(value)
                for c in map(make_constraint, cls._parameter_constraints[name])
            )
            if not ok:
                raise ValueError(
                    f"fitted attribute training_params_[{name!r}]={value!r} is not "
                    f"a value {name} takes."
                )


# -- checks of stored state against what fit builds ----------------------------


def check_layout(state, required, optional=()):
    """Check ``state`` is a dict with these keys, of these types."""
    if not isinstance(state, dict):
        raise ValueError("the stored state is not a mapping.")
    unknown = state.keys() - required.keys() - dict(optional).keys()
    missing = required.keys() - state.keys()
    if unknown or missing:
        raise ValueError(
            f"the stored state lacks {sorted(missing)} or has unknown entries "
            f"{sorted(unknown)}."
        )
    for key, kind in {**required, **dict(optional)}.items():
        if key in state and not isinstance(state[key], kind):
            raise ValueError(f"the stored {key!r} is not a {kind.__name__}.")


def load_module_state(module, state, where):
    """Copy ``state`` into ``module`` once it matches it exactly
    (``check_module_state``)."""
    check_module_state(module.state_dict(), state, where)
    module.load_state_dict(state, strict=True)


def check_module_state(expected, state, where):
    """Raise ValueError unless ``state`` fits the state dict ``expected``.

    Every parameter and buffer must be there, with the network's shape and
    dtype and finite values (batch-norm variances and counts not negative);
    no other tensor may be. ``expected`` may hold meta tensors: only shapes
    and dtypes are read. ``where`` names the state in messages as in the
    file (``modules/encoder_``).
    """
    if not isinstance(state, dict) or not all(
        torch.is_tensor(v) for v in state.values()
    ):
        raise ValueError(f"{where} is not a mapping of names to tensors.")
    missing = sorted(expected.keys() - state.keys())
    extra = sorted(state.keys() - expected.keys())
    if missing or extra:
        problems = [
            f"{what} tensors {names}"
            for what, names in (("missing", missing), ("unexpected", extra))
            if names
        ]
        raise ValueError(
            f"{where} does not match the network its parameters build: "
            f"{' and '.join(problems)}."
        )
    for key, ref in expected.items():
        value = state[key]
        if value.shape != ref.shape or value.dtype != ref.dtype:
            raise ValueError(
                f"tensor {where}/{key} has shape {tuple(value.shape)} and dtype "
                f"{value.dtype}; the network expects {tuple(ref.shape)} and "
                f"{ref.dtype}."
            )
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise ValueError(f"tensor {where}/{key} holds non-finite values.")
        # A negative variance gives NaN through the square root of batch
        # norm, silently, at every later transform.
        last = key.rsplit(".", 1)[-1]
        if last in _NON_NEGATIVE and value.numel() and (value < 0).any():
            raise ValueError(f"tensor {where}/{key} holds negative values.")


# Buffers and optimizer entries that are counts or variances.
_NON_NEGATIVE = ("running_var", "num_batches_tracked")
_NON_NEGATIVE_OPTIMIZER = ("step", "exp_avg_sq", "max_exp_avg_sq")


def load_optimizer_state(optimizer, state, where):
    """Load a ``torch.optim`` state dict once it fits ``optimizer``'s parameters."""
    if not (
        isinstance(state, dict)
        and isinstance(state.get("state"), dict)
        and isinstance(state.get("param_groups"), list)
        and all(
            isinstance(g, dict) and isinstance(g.get("params"), list)
            for g in state["param_groups"]
        )
    ):
        raise ValueError(f"{where} is not an optimizer state.")
    groups = [g["params"] for g in optimizer.param_groups]
    stored = [g["params"] for g in state["param_groups"]]
    if [len(g) for g in groups] != [len(g) for g in stored]:
        raise ValueError(
            f"{where} has parameter groups of sizes {[len(g) for g in stored]}; "
            f"the optimizer has {[len(g) for g in groups]}."
        )
    params = dict(zip((i for g in stored for i in g), (p for g in groups for p in g)))
    for index, entry in state["state"].items():
        if index not in params or not isinstance(entry, dict):
            raise ValueError(f"{where} has state for an unknown parameter {index!r}.")
        for key, value in entry.items():
            if not torch.is_tensor(value):
                continue
            if value.dim() and value.shape != params[index].shape:
                raise ValueError(
                    f"tensor {where}/state/{index}/{key} has shape "
                    f"{tuple(value.shape)}; its parameter has "
                    f"{tuple(params[index].shape)}."
                )
            if value.is_floating_point() and not torch.isfinite(value).all():
                raise ValueError(
                    f"tensor {where}/state/{index}/{key} holds non-finite values."
                )
            if key in _NON_NEGATIVE_OPTIMIZER and (value < 0).any():
                raise ValueError(
                    f"tensor {where}/state/{index}/{key} holds negative values; "
                    "Adam's step counts and second moments are not negative."
                )
    try:
        optimizer.load_state_dict(state)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"{where} does not fit the optimizer ({exc}).") from exc
