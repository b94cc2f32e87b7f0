"""sklearn_ali.io: saving and loading fitted models without pickle."""

import json
import math
import pickle

import numpy as np
import pytest
import skorch
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from skorch.callbacks import Callback

from sklearn_ali import ALITransformer, io
from sklearn_ali.io import METADATA_KEY

NETWORKS = ("encoder_", "decoder_", "discriminator_")


def dump_and_load(model, tmp_path, **kwargs):
    path = tmp_path / "ali.safetensors"
    io.dump(model, path, **kwargs)
    return io.load(path)


def fitted_attributes(model):
    return {k: v for k, v in vars(model).items() if k.endswith("_") and k != "net_"}


def assert_same_value(actual, value):
    """Equal values of the same types; arrays of the same dtype, also in dicts."""
    if isinstance(value, np.ndarray):
        assert actual.dtype == value.dtype
        np.testing.assert_array_equal(actual, value)
    elif isinstance(value, dict):
        assert type(actual) is dict and actual.keys() == value.keys()
        for key, item in value.items():
            assert_same_value(actual[key], item)
    else:
        assert type(actual) is type(value) and actual == value


def assert_same_model(model, loaded, X):
    """Same outputs, parameters, fitted attributes, weights and history."""
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))
    Z = model.encode(X[:10])
    np.testing.assert_array_equal(loaded.encode(X[:10]), Z)
    np.testing.assert_array_equal(
        loaded.inverse_transform(Z), model.inverse_transform(Z)
    )
    np.testing.assert_array_equal(
        loaded.sample(5, random_state=0), model.sample(5, random_state=0)
    )
    assert loaded.get_params() == model.get_params()
    expected = fitted_attributes(model)
    actual = fitted_attributes(loaded)
    assert actual.keys() == expected.keys()
    for name, value in expected.items():
        assert_same_value(actual[name], value)
    assert list(loaded.history_) == list(model.history_)
    for name in NETWORKS:
        state = getattr(model, name).state_dict()
        loaded_state = getattr(loaded, name).state_dict()
        assert loaded_state.keys() == state.keys()
        assert all(torch.equal(loaded_state[k], v) for k, v in state.items())
        assert not getattr(loaded, name).training


def read_file(path):
    with safe_open(path, framework="pt") as f:
        document = json.loads(f.metadata()[METADATA_KEY])
        tensors = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118
    return document, tensors


def write_file(path, document, tensors):
    """The inverse of ``read_file``: the document and tensors as io.dump writes."""
    save_file(tensors, path, metadata={METADATA_KEY: json.dumps(document)})


# -- round trips ---------------------------------------------------------------


@pytest.mark.parametrize(
    "data, params, architecture",
    [
        ("flat", {}, "mlp"),
        ("flat", {"encoder": "deterministic", "features": "hidden"}, "mlp"),
        ("images", {}, "conv"),
        ("flat", {"image_shape": (1, 8, 8)}, "conv"),
    ],
    ids=["tabular", "tabular-hidden-features", "images-4d", "flat-images"],
)
def test_round_trip_gives_the_same_model(
    data, params, architecture, tmp_path, digits_flat, digits_images, tiny
):
    X = digits_images if data == "images" else digits_flat
    model = ALITransformer(random_state=0, **tiny, **params).fit(X)
    loaded = dump_and_load(model, tmp_path)
    assert type(loaded) is ALITransformer
    assert loaded.architecture_ == architecture
    assert_same_model(model, loaded, X)
    assert loaded.inverse_transform(model.encode(X[:2])).shape[1:] == X.shape[1:]


def test_a_loaded_model_dumps_to_the_same_bytes(tmp_path, digits_images, tiny):
    model = ALITransformer(random_state=0, **tiny).fit(digits_images)
    first, second = tmp_path / "first.safetensors", tmp_path / "second.safetensors"
    io.dump(model, first)
    io.dump(io.load(first), second)
    assert first.read_bytes() == second.read_bytes()


def test_a_loaded_model_refits_like_the_original(tmp_path, digits_flat, tiny):
    model = ALITransformer(random_state=0, **tiny).fit(digits_flat)
    loaded = dump_and_load(model, tmp_path)
    np.testing.assert_array_equal(
        loaded.fit(digits_flat).transform(digits_flat), model.transform(digits_flat)
    )


def test_feature_names_from_a_dataframe_survive(tmp_path, digits_flat, tiny):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(digits_flat, columns=[f"px{i}" for i in range(64)])
    model = ALITransformer(random_state=0, **tiny).fit(df)
    loaded = dump_and_load(model, tmp_path)
    assert loaded.feature_names_in_.dtype == object
    np.testing.assert_array_equal(loaded.feature_names_in_, model.feature_names_in_)
    np.testing.assert_array_equal(
        loaded.get_feature_names_out(), model.get_feature_names_out()
    )
    np.testing.assert_array_equal(loaded.transform(df), model.transform(df))
    with pytest.raises(ValueError, match="feature names"):
        loaded.transform(df.rename(columns={"px0": "other"}))


def test_parameters_keep_their_types_and_callbacks_are_not_stored(
    tmp_path, digits_flat, tiny
):
    class DoNothing(Callback):
        pass

    params = {
        **tiny,
        "hidden_layer_sizes": [16],
        "betas": (0.5, 0.99),
        "device": torch.device("cpu"),
        "random_state": np.random.RandomState(3),
        "callbacks": [DoNothing()],
    }
    model = ALITransformer(**params).fit(digits_flat)
    model.set_params(features="sample")  # transform draws from random_state
    loaded = dump_and_load(model, tmp_path)
    assert loaded.hidden_layer_sizes == [16]
    assert loaded.betas == (0.5, 0.99)
    assert loaded.device == "cpu"
    assert loaded.callbacks is None
    assert loaded.random_state is not model.random_state
    expected = model.random_state.get_state(legacy=False)
    actual = loaded.random_state.get_state(legacy=False)
    np.testing.assert_array_equal(actual["state"]["key"], expected["state"]["key"])
    assert actual["state"]["pos"] == expected["state"]["pos"]
    np.testing.assert_array_equal(
        loaded.transform(digits_flat), model.transform(digits_flat)
    )
    others = ("callbacks", "device", "random_state")
    assert {k: v for k, v in loaded.get_params().items() if k not in others} == {
        k: v for k, v in model.get_params().items() if k not in others
    }


def test_non_finite_history_values_round_trip_as_strict_json(
    tmp_path, digits_flat, tiny
):
    model = ALITransformer(random_state=0, **tiny).fit(digits_flat)
    model.history_[-1]["d_loss"] = math.nan
    model.history_[0]["g_loss"] = -math.inf
    model.history_[0]["batches"][0]["recon_loss"] = math.inf
    path = tmp_path / "ali.safetensors"
    io.dump(model, path)
    with safe_open(path, framework="pt") as f:
        text = f.metadata()[METADATA_KEY]
    json.loads(text, parse_constant=pytest.fail)  # no NaN/Infinity literals
    loaded = io.load(path)
    assert math.isnan(loaded.history_[-1, "d_loss"])
    assert loaded.history_[0, "g_loss"] == -math.inf
    assert loaded.history_[0, "batches"][0]["recon_loss"] == math.inf
    assert len(loaded.history_) == len(model.history_)


def test_optimizer_state_is_stored_on_request(tmp_path, digits_images, tiny):
    model = ALITransformer(random_state=0, **tiny).fit(digits_images)
    lean, full = tmp_path / "lean.safetensors", tmp_path / "full.safetensors"
    io.dump(model, lean)
    io.dump(model, full, include_optimizer=True)
    assert full.stat().st_size > 2 * lean.stat().st_size  # two Adam moments

    loaded = io.load(full)
    for name in ("optimizer_",):
        expected = getattr(model.net_, name).state_dict()
        actual = getattr(loaded.net_, name).state_dict()
        assert actual["param_groups"] == expected["param_groups"]
        assert actual["state"].keys() == expected["state"].keys()
        for index, entry in expected["state"].items():
            assert actual["state"][index].keys() == entry.keys()
            for key, value in entry.items():
                assert torch.equal(actual["state"][index][key], value)
    # The restored optimizers update the loaded networks' parameters.
    (d_group,) = [
        g for g in loaded.net_.optimizer_.param_groups if g["player"] == "discriminator"
    ]
    optimized = d_group["params"]
    assert all(
        p is q
        for p, q in zip(optimized, loaded.discriminator_.parameters(), strict=True)
    )
    assert io.load(lean).net_.optimizer_.state_dict()["state"] == {}


def test_load_never_unpickles(monkeypatch, tmp_path, digits_images, tiny):
    model = ALITransformer(random_state=0, **tiny).fit(digits_images)
    path = tmp_path / "ali.safetensors"
    io.dump(model, path)

    def refuse(*args, **kwargs):
        raise AssertionError("load unpickled something")

    for owner, name in [
        (pickle, "loads"),
        (pickle, "load"),
        (pickle, "Unpickler"),
        (pickle, "_Unpickler"),
        (torch, "load"),
        # Unpickling any network or skorch net, by whatever route, calls these.
        (torch.nn.Module, "__setstate__"),
        (skorch.NeuralNet, "__setstate__"),
    ]:
        monkeypatch.setattr(owner, name, refuse)
    loaded = io.load(path)
    np.testing.assert_array_equal(
        loaded.transform(digits_images), model.transform(digits_images)
    )


def test_load_leaves_the_global_torch_rng_alone(tmp_path, digits_flat, tiny):
    model = ALITransformer(random_state=0, **tiny).fit(digits_flat)
    path = tmp_path / "ali.safetensors"
    io.dump(model, path)
    before = torch.get_rng_state()
    io.load(path, device=torch.device("cpu"))
    assert torch.equal(torch.get_rng_state(), before)


def test_package_exports_io():
    import sklearn_ali

    assert sklearn_ali.io is io and "io" in sklearn_ali.__all__
    assert callable(io.dump) and callable(io.load)


# -- what dump refuses ----------------------------------------------------------


def test_dump_of_an_unfitted_model_raises_not_fitted(tmp_path, tiny):
    path = tmp_path / "ali.safetensors"
    with pytest.raises(NotFittedError):
        io.dump(ALITransformer(**tiny), path)
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_dump_refuses_other_estimators(tmp_path, digits_flat):
    with pytest.raises(TypeError, match="ALITransformer"):
        io.dump(PCA(2).fit(digits_flat), tmp_path / "pca.safetensors")


def test_dump_refuses_fitted_attributes_that_are_not_data(tmp_path, digits_flat, tiny):
    model = ALITransformer(random_state=0, **tiny).fit(digits_flat)
    model.custom_ = object()
    with pytest.raises(ValueError, match="attributes/custom_: a object"):
        io.dump(model, tmp_path / "ali.safetensors")


# -- what load refuses ------------------------------------------------------------


def _first(tensors, prefix, ndim=None):
    return next(
        k
        for k in sorted(tensors)
        if k.startswith(prefix) and (ndim is None or tensors[k].dim() == ndim)
    )


def _remove_tensor(doc, tensors):
    del tensors[_first(tensors, "modules/encoder_/")]


def _add_tensor(doc, tensors):
    tensors["modules/encoder_/extra"] = torch.zeros(3)


def _add_tensor_to_network(doc, tensors):
    doc["state"]["modules"]["encoder_"]["extra.weight"] = {"__tensor__": "extra"}
    tensors["extra"] = torch.zeros(3)


def _remove_tensor_from_network(doc, tensors):
    key = _first(tensors, "modules/decoder_/")
    del tensors[key]
    del doc["state"]["modules"]["decoder_"][key.split("/")[-1]]


def _reshape_tensor(doc, tensors):
    key = _first(tensors, "modules/discriminator_/", ndim=2)
    tensors[key] = tensors[key].reshape(-1)


def _change_dtype(doc, tensors):
    key = _first(tensors, "modules/encoder_/", ndim=2)
    tensors[key] = tensors[key].double()


def _nan_weight(doc, tensors):
    tensors[_first(tensors, "modules/decoder_/", ndim=2)][0, 0] = math.nan


def _remove_network(doc, tensors):
    del doc["state"]["modules"]["decoder_"]
    for key in [k for k in tensors if k.startswith("modules/decoder_/")]:
        del tensors[key]


def _set_n_components(n):
    def tamper(doc, tensors):
        doc["state"]["params"]["n_components"] = n
        doc["state"]["attributes"]["_structure_"]["n_components"] = n
        doc["state"]["attributes"]["n_components_"] = n

    return tamper


def _negative(suffix):
    def tamper(doc, tensors):
        key = next(k for k in tensors if k.endswith(suffix))
        tensors[key] = -tensors[key].abs() - 1

    return tamper


def _set(*keys_and_value):
    *keys, value = keys_and_value

    def tamper(doc, tensors):
        target = doc
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return tamper


TAMPERED = [
    ("unknown-class", _set("estimator", "builtins.eval"), "unknown estimator class"),
    ("format-version", _set("format_version", 2), "format version 2 is not supp"),
    ("format-name", _set("format", "other"), "not an sklearn-ali document"),
    ("no-state", lambda d, t: d.pop("state"), "no 'state' entry"),
    ("tensor-removed", _remove_tensor, "tensor 'modules/encoder_/.*' is missing"),
    ("tensor-added", _add_tensor, r"unexpected tensors \['modules/encoder_/extra'\]"),
    ("network-tensor-added", _add_tensor_to_network, r"unexpected tensors \['extra"),
    ("network-tensor-removed", _remove_tensor_from_network, "missing tensors"),
    ("tensor-reshaped", _reshape_tensor, "modules/discriminator_/.* has shape"),
    ("tensor-dtype", _change_dtype, "dtype torch.float64; the network expects"),
    ("non-finite-weight", _nan_weight, "holds non-finite values"),
    ("bad-param", _set("state", "params", "n_components", -1), "'n_components'"),
    ("bad-param-type", _set("state", "params", "betas", "x"), "'betas'"),
    (
        "unknown-param",
        _set("state", "params", "exec", 1),
        r"unknown parameters \['exec",
    ),
    (
        "param-vs-structure",
        _set("state", "params", "n_components", 5),
        r"_structure_ disagrees with the stored parameters on \['n_components'\]",
    ),
    # Both edited alike: the tensors, checked against networks on the meta
    # device, refuse sizes that would allocate terabytes if built.
    ("param-vs-weights", _set_n_components(10**9), "has shape"),
    ("bad-seed", _set("state", "attributes", "_seed_", -3), "_seed_=-3 is not an int"),
    ("bad-structure", _set("state", "attributes", "_structure_", {}), "_structure_="),
    ("negative-running-var", _negative("running_var"), "holds negative values"),
    (
        "bad-attribute",
        _set("state", "attributes", "architecture_", "resnet"),
        "fitted attribute architecture_='resnet'",
    ),
    (
        "attribute-name",
        _set("state", "attributes", "__class__", "x"),
        "cannot be fitted attributes",
    ),
    (
        "missing-attribute",
        lambda d, t: d["state"]["attributes"].pop("device_"),
        r"\['device_'\] are missing",
    ),
    ("bad-tag", _set("state", "history", [{"__float__": "1e999"}]), "non-finite float"),
    ("bad-history", _set("state", "history", [1, 2]), "history is not a list of dicts"),
    ("missing-network", _remove_network, r"the stored modules are \['disc"),
    (
        "code-mixture-not-a-mixture",
        _set("state", "attributes", "code_mixture_", "extra", [1.0]),
        "fitted attribute code_mixture_ is not a dict of",
    ),
    (
        "training-params-not-a-dict-of-them",
        _set("state", "attributes", "training_params_", {"max_epochs": 2}),
        r"training_params_=\{'max_epochs': 2\} is not a dict of",
    ),
    (
        "training-param-auto",
        _set("state", "attributes", "training_params_", "learning_rate", "auto"),
        r"training_params_\['learning_rate'\]='auto' is not a value",
    ),
    (
        "training-param-out-of-range",
        _set("state", "attributes", "training_params_", "max_epochs", 0),
        r"training_params_\['max_epochs'\]=0 is not a value",
    ),
    (
        "training-param-bool-for-a-number",
        _set("state", "attributes", "training_params_", "reconstruction_weight", True),
        r"training_params_\['reconstruction_weight'\]=True is not a value",
    ),
]


def _older_file(tmp_path, model, edit):
    """``model`` dumped, then ``edit``-ed into what an earlier version wrote."""
    path = tmp_path / "ali.safetensors"
    io.dump(model, path)
    document, tensors = read_file(path)
    edit(document)
    old = tmp_path / "old.safetensors"
    write_file(old, document, tensors)
    return old, document, tensors


def test_a_file_from_before_training_params_loads_with_them_resolved(
    tmp_path, digits_images, tiny
):
    model = ALITransformer(random_state=0, **tiny).fit(digits_images)
    old, _, _ = _older_file(
        tmp_path, model, lambda doc: doc["state"]["attributes"].pop("training_params_")
    )
    loaded = io.load(old)
    assert loaded.training_params_ == model.training_params_
    np.testing.assert_array_equal(
        loaded.transform(digits_images), model.transform(digits_images)
    )


def test_a_file_from_before_the_code_mixture_samples_from_the_prior(
    tmp_path, digits_images, tiny
):
    model = ALITransformer(random_state=0, **tiny).fit(digits_images)
    old, document, tensors = _older_file(
        tmp_path, model, lambda doc: doc["state"]["attributes"].pop("code_mixture_")
    )
    for name in [name for name in tensors if "code_mixture_" in name]:
        del tensors[name]
    write_file(old, document, tensors)
    loaded = io.load(old)
    assert not hasattr(loaded, "code_mixture_")
    np.testing.assert_array_equal(
        loaded.sample(5, random_state=0), model.sample(5, random_state=0, codes="prior")
    )


def _from_before_dropout_took_auto(document):
    """Before ``dropout`` took "auto" the parameter held the value, and
    ``training_params_`` did not name it."""
    del document["state"]["attributes"]["training_params_"]["dropout"]
    document["state"]["params"]["dropout"] = 0.0


def test_a_file_from_before_dropout_took_auto_loads_with_its_value(
    tmp_path, digits_flat, tiny
):
    model = ALITransformer(random_state=0, **tiny).fit(digits_flat)
    assert model.dropout == "auto" and model.training_params_["dropout"] == 0.0
    old, document, tensors = _older_file(
        tmp_path, model, _from_before_dropout_took_auto
    )
    loaded = io.load(old)
    assert loaded.training_params_ == model.training_params_
    np.testing.assert_array_equal(
        loaded.transform(digits_flat), model.transform(digits_flat)
    )
    # Such a file cannot have left the parameter at "auto".
    document["state"]["params"]["dropout"] = "auto"
    write_file(old, document, tensors)
    with pytest.raises(ValueError, match=r"training_params_\['dropout'\]='auto'"):
        io.load(old)


@pytest.mark.parametrize(
    "tamper, match", [t[1:] for t in TAMPERED], ids=[t[0] for t in TAMPERED]
)
def test_a_tampered_file_is_a_clear_value_error(
    tamper, match, tmp_path, digits_flat, tiny
):
    model = ALITransformer(random_state=0, **tiny).fit(digits_flat)
    path = tmp_path / "ali.safetensors"
    io.dump(model, path)
    document, tensors = read_file(path)
    tamper(document, tensors)
    bad = tmp_path / "tampered.safetensors"
    write_file(bad, document, tensors)
    with pytest.raises(ValueError, match=match) as info:
        io.load(bad)
    assert str(bad) in str(info.value)


@pytest.mark.parametrize(
    "metadata, match",
    [
        (None, "not an sklearn-ali file"),
        ({"format": "pt"}, "not an sklearn-ali file"),
        ({METADATA_KEY: "{not json"}, "not valid JSON"),
        ({METADATA_KEY: '{"format": NaN}'}, "not valid JSON"),
        ({METADATA_KEY: "[1, 2]"}, "not an sklearn-ali document"),
        ({METADATA_KEY: "[" * 100_000 + "]" * 100_000}, "not valid JSON"),
    ],
    ids=["none", "other", "bad-json", "nan-literal", "not-a-document", "deep"],
)
def test_a_file_without_a_valid_document_is_a_clear_value_error(
    metadata, match, tmp_path
):
    path = tmp_path / "weights.safetensors"
    save_file({"w": torch.zeros(2)}, path, metadata=metadata)
    with pytest.raises(ValueError, match=match) as info:
        io.load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_a_damaged_file_is_a_clear_value_error(damage, tmp_path, digits_flat, tiny):
    model = ALITransformer(random_state=0, **tiny).fit(digits_flat)
    path = tmp_path / "ali.safetensors"
    io.dump(model, path)
    data = path.read_bytes()
    damaged = {
        "garbage": np.random.RandomState(0).bytes(len(data)),
        "truncated": data[: len(data) // 2],
        "empty": b"",
    }[damage]
    path.write_bytes(damaged)
    with pytest.raises(ValueError, match="not a safetensors file") as info:
        io.load(path)
    assert str(path) in str(info.value)


def test_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        io.load(tmp_path / "nothing.safetensors")


def test_load_checks_the_device(tmp_path, digits_flat, tiny):
    model = ALITransformer(random_state=0, **tiny).fit(digits_flat)
    path = tmp_path / "ali.safetensors"
    io.dump(model, path)
    with pytest.raises(ValueError, match="not a torch device"):
        io.load(path, device="abacus")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            io.load(path, device="cuda")
    # "auto" as in fit: CUDA when there is one, the CPU otherwise.
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert torch.device(io.load(path, device="auto").net_.device).type == expected


@pytest.mark.parametrize("entry", ["step", "exp_avg_sq"])
def test_a_negative_optimizer_entry_is_refused(entry, tmp_path, digits_flat, tiny):
    model = ALITransformer(random_state=0, **tiny).fit(digits_flat)
    path = tmp_path / "ali.safetensors"
    io.dump(model, path, include_optimizer=True)
    document, tensors = read_file(path)
    _negative(f"/{entry}")(document, tensors)
    bad = tmp_path / "tampered.safetensors"
    write_file(bad, document, tensors)
    with pytest.raises(ValueError, match=f"{entry} holds negative values"):
        io.load(bad)


def test_finite_weights_that_give_non_finite_outputs_are_refused(
    tmp_path, digits_flat, tiny
):
    model = ALITransformer(random_state=0, **tiny).fit(digits_flat)
    path = tmp_path / "ali.safetensors"
    io.dump(model, path)
    document, tensors = read_file(path)
    for key in tensors:  # finite, but a float32 overflow on any input
        if key.startswith("modules/decoder_/") and key.endswith("weight"):
            tensors[key] = torch.full_like(tensors[key], 3e38)
        if key.startswith("modules/decoder_/") and key.endswith("bias"):
            tensors[key] = torch.full_like(tensors[key], 3e38)
    bad = tmp_path / "tampered.safetensors"
    write_file(bad, document, tensors)
    with pytest.raises(ValueError, match="decoder gives NaN or infinite outputs"):
        io.load(bad)


@pytest.mark.parametrize(
    "device, match",
    [
        ("meta", "holds no data"),
        ("xpu", "XPU is not available"),
        ("cuda:99", "CUDA"),
        ("gpu", "is not a torch device"),
    ],
)
def test_load_checks_the_device_as_fit_does(device, match, tmp_path, digits_flat, tiny):
    model = ALITransformer(random_state=0, **tiny).fit(digits_flat)
    path = tmp_path / "ali.safetensors"
    io.dump(model, path)
    with pytest.raises(ValueError, match=match):
        io.load(path, device=device)
