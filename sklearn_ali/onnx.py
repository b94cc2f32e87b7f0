"""Export fitted pipelines to ONNX: skl2onnx converters for this package.

:func:`register_converters` teaches `skl2onnx <https://onnx.ai/sklearn-onnx/>`_
the package's estimators, after which ``skl2onnx.to_onnx`` converts a
pipeline that holds them like any other scikit-learn pipeline::

    from skl2onnx import to_onnx
    from sklearn_ali.onnx import register_converters

    register_converters()
    onx = to_onnx(pipeline, X[:1])  # runs in onnxruntime, without torch

What each estimator becomes:

- :class:`~sklearn_ali.ALITransformer`: ``transform`` with
  ``features="hidden"`` or ``"mean"`` (``"sample"`` draws random numbers,
  which the graph would not reproduce, and is refused). The output has
  ``transform``'s width and dtype: float32 for float32 input, float64
  otherwise.
- :class:`~sklearn_ali.ALIClassifier`: ``predict`` and ``predict_proba``
  (skl2onnx's two classifier outputs, its ``zipmap`` option included).

The networks are exported with ``torch.onnx`` (its ``torch.export``-based
exporter, which needs ``onnxscript``) and embedded in skl2onnx's graph
together with the scaling ``fit`` learned, so that the ONNX model takes raw
rows shaped as ``fit`` saw them. The ``onnx`` extra installs what this needs
(``pip install "sklearn-ali[onnx]"``); running the exported model needs only
``onnxruntime``.
"""

import contextlib
import copy
import logging
import warnings

import numpy as np
import torch
from torch import nn

from ._classifier import ALIClassifier
from ._scaling import scale_batch
from ._transformer import ALITransformer
from .objectives import class_logits

__all__ = ["register_converters"]

# torch.onnx's torch.export-based exporter writes opset 18 or later.
MIN_OPSET = 18
# The batch size of the example input; any other size runs too (the batch
# dimension is exported as dynamic), but torch.export specialises sizes 0 and 1.
_EXAMPLE_ROWS = 2


def register_converters():
    """Register skl2onnx's shape calculators and converters for this package.

    After this call ``skl2onnx.to_onnx`` (and ``convert_sklearn``) convert
    :class:`~sklearn_ali.ALITransformer` and
    :class:`~sklearn_ali.ALIClassifier`, alone or inside pipelines. Calling
    it again is harmless.

    Raises
    ------
    ImportError
        When skl2onnx, onnx or onnxscript is missing; ``pip install
        "sklearn-ali[onnx]"`` installs them.
    """
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401  torch.onnx's exporter needs it
        from skl2onnx import update_registered_converter
        from skl2onnx.shape_calculators.linear_classifier import (
            calculate_linear_classifier_output_shapes,
        )
    except ImportError as exc:
        raise ImportError(
            f"ONNX export needs skl2onnx, onnx and onnxscript ({exc}); install "
            'them with pip install "sklearn-ali[onnx]".'
        ) from exc
    update_registered_converter(
        ALITransformer,
        "SklearnALITransformer",
        _transformer_shape,
        _convert_transformer,
    )
    update_registered_converter(
        ALIClassifier,
        "SklearnALIClassifier",
        calculate_linear_classifier_output_shapes,
        _convert_classifier,
        # skl2onnx's options of every classifier, handled by its parser.
        options={"zipmap": [True, False, "columns"], "nocl": [True, False]},
    )


# ---------------------------------------------------------------------------
# what is exported: raw rows in, the method's numbers out


class _RawRows(nn.Module):
    """Raw rows (float64, shaped as in fit) scaled and shaped for the networks."""

    def __init__(self, estimator):
        super().__init__()
        shift, factor = estimator._scaling()
        # float64: the graph's input is cast to it, as transform computes
        # the scaling in the promoted dtype of X and the scaling.
        self.register_buffer("shift", shift.to(torch.float64))
        self.register_buffer("factor", factor.to(torch.float64))
        self.shape = tuple(estimator._network_input_shape())

    def forward(self, x):  # (n, *shape in fit), float64
        x = scale_batch(x.reshape(x.shape[0], -1), self.shift, self.factor)
        return x.reshape(-1, *self.shape)


class _Transform(nn.Module):
    """``transform``'s features, float32, shape (n, n_features_out)."""

    def __init__(self, estimator):
        super().__init__()
        self.rows = _RawRows(estimator)
        self.encoder = estimator.net_.encoder_
        self.hidden = estimator.features == "hidden"

    def forward(self, x):
        x = self.rows(x)
        return self.encoder.hidden_features(x) if self.hidden else self.encoder.mean(x)


class _ClassLogits(nn.Module):
    """D's K class logits for (x, mu(x)), float32, shape (n, K)."""

    def __init__(self, estimator):
        super().__init__()
        self.rows = _RawRows(estimator)
        self.module = estimator.net_.module_

    def forward(self, x):
        return class_logits(self.module, self.rows(x))


def _export(module, estimator, opset):
    """``module`` as an ONNX ModelProto of opset ``opset``, batch size dynamic."""
    import onnx

    if opset < MIN_OPSET:
        raise ValueError(
            f"target_opset={opset}: torch.onnx exports this package's networks "
            f"at opset {MIN_OPSET} or later; convert with target_opset>="
            f"{MIN_OPSET}."
        )
    example = torch.zeros(_EXAMPLE_ROWS, *_fit_shape(estimator), dtype=torch.float64)
    # Export in eval mode (dropout off, batch norm's running statistics),
    # then give every module back the mode it had.
    modes = [(m, m.training) for m in module.modules()]
    try:
        # The exporter traces on the CPU; a model kept on a GPU is copied there.
        with _quiet_exporter():
            program = torch.onnx.export(
                _on_cpu(module.eval()),
                (example,),
                dynamo=True,
                opset_version=opset,
                input_names=["x"],
                output_names=["y"],
                dynamic_shapes=({0: torch.export.Dim("n")},),
                verbose=False,
            )
    finally:
        for m, training in modes:
            m.train(training)
    model = program.model_proto
    if model.functions:
        raise RuntimeError(
            "torch.onnx left ONNX functions in the exported networks "
            f"({[f.name for f in model.functions]}), which this converter "
            "cannot embed; please report it with your torch version."
        )
    onnx.checker.check_model(model)
    return model


@contextlib.contextmanager
def _quiet_exporter():
    """Silence what torch.onnx says of itself while it exports: warnings
    about its own internals and log lines about torchvision's operators."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        logger.setLevel(level)


def _on_cpu(module):
    if all(t.device.type == "cpu" for t in [*module.parameters(), *module.buffers()]):
        return module
    return copy.deepcopy(module).cpu()


def _fit_shape(estimator):
    """The shape of one row of X as fit saw it."""
    if estimator._input_ndim_ == 4:
        return tuple(estimator.image_shape_)
    return (estimator.n_features_in_,)


def _embed(scope, container, model, input_name, output_name):
    """Copy ``model``'s graph into skl2onnx's ``container``, between the
    container's ``input_name`` and ``output_name``, under fresh names."""
    import onnx
    from onnx import helper, numpy_helper

    prefix = scope.get_unique_variable_name("ali_net") + "_"
    model = onnx.compose.add_prefix(model, prefix)
    graph = model.graph
    opsets = {o.domain: o.version for o in model.opset_import}
    for tensor in graph.initializer:
        # add_initializer copies raw_data: write every tensor in that form.
        array = numpy_helper.to_array(tensor)
        tensor = numpy_helper.from_array(array, tensor.name)
        container.add_initializer(tensor.name, tensor.data_type, tensor.dims, tensor)
    container.add_node("Identity", input_name, graph.input[0].name)
    for node in graph.node:
        container.add_node(
            node.op_type,
            list(node.input),
            list(node.output),
            op_domain=node.domain,
            op_version=opsets[node.domain],
            name=scope.get_unique_operator_name(node.op_type),
            **{a.name: helper.get_attribute_value(a) for a in node.attribute},
        )
    container.add_node("Identity", graph.output[0].name, output_name)


def _network(scope, operator, container, module, name):
    """``module`` exported and embedded on the operator's input (cast to
    float64); the name of its output."""
    model = _export(module, operator.raw_operator, container.target_opset)
    out = scope.get_unique_variable_name(name)
    x = _as_double(scope, container, operator.inputs[0])
    _embed(scope, container, model, x, out)
    return out


def _as_double(scope, container, variable):
    """The name of ``variable`` cast to float64 (the networks' input)."""
    from onnx import TensorProto

    name = scope.get_unique_variable_name("x_float64")
    container.add_node("Cast", variable.full_name, name, to=TensorProto.DOUBLE)
    return name


# ---------------------------------------------------------------------------
# ALITransformer


def _check_deterministic(estimator):
    if estimator.features not in ("hidden", "mean"):
        raise ValueError(
            f"features={estimator.features!r} draws random numbers at each "
            "transform, which an ONNX graph would not reproduce; export a model "
            'with features="hidden" or "mean".'
        )


def _transformer_shape(operator):
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    estimator = operator.raw_operator
    _check_deterministic(estimator)
    rows = operator.inputs[0].get_first_dimension()
    # transform's dtype: float32 stays float32, anything else becomes float64.
    kind = operator.inputs[0].type
    out = FloatTensorType if isinstance(kind, FloatTensorType) else DoubleTensorType
    operator.outputs[0].type = out([rows, estimator._n_features_out])


def _convert_transformer(scope, operator, container):
    from skl2onnx.common.data_types import guess_proto_type

    estimator = operator.raw_operator
    _check_deterministic(estimator)
    features = _network(scope, operator, container, _Transform(estimator), "features")
    container.add_node(
        "Cast",
        features,
        operator.outputs[0].full_name,
        to=guess_proto_type(operator.outputs[0].type),
    )


# ---------------------------------------------------------------------------
# ALIClassifier


def _convert_classifier(scope, operator, container):
    from onnx import TensorProto
    from skl2onnx.common.data_types import guess_proto_type
    from skl2onnx.common.utils_classifier import get_label_classes

    estimator = operator.raw_operator
    logits = _network(scope, operator, container, _ClassLogits(estimator), "logits")
    label, proba = operator.outputs[:2]
    # predict: the class of the largest logit, as predict's argmax.
    index = scope.get_unique_variable_name("class_index")
    container.add_node("ArgMax", logits, index, axis=1, keepdims=0)
    classes = np.asarray(get_label_classes(scope, estimator))
    if classes.dtype.kind in "OUS":
        data_type, values = TensorProto.STRING, [str(c).encode() for c in classes]
    else:
        data_type, values = TensorProto.INT64, classes.astype(np.int64).tolist()
    classes_name = scope.get_unique_variable_name("classes")
    container.add_initializer(classes_name, data_type, [len(classes)], values)
    container.add_node("Gather", [classes_name, index], label.full_name, axis=0)
    # predict_proba: the softmax of the logits, in the output's dtype.
    softmax = scope.get_unique_variable_name("softmax")
    container.add_node("Softmax", logits, softmax, axis=1)
    container.add_node(
        "Cast", softmax, proba.full_name, to=guess_proto_type(proba.type)
    )
