"""skorch's promises: callbacks, validation, optimizer settings, continuing.

Each test uses skorch's stock callbacks the way a skorch user would.
"""

import threading
import warnings

import joblib
import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from skorch.callbacks import (
    Callback,
    Checkpoint,
    EarlyStopping,
    EpochScoring,
    GradientNormClipping,
    LoadInitState,
    LRScheduler,
)
from test_training import _net
from torch.optim.lr_scheduler import LambdaLR, StepLR

from sklearn_ali import ALIClassifier, ALITransformer, ConditionalALI


def _groups(ali):
    return {g["player"]: g for g in ali.net_.optimizer_.param_groups}


def _weights(ali):
    return {k: v.clone() for k, v in ali.net_.module_.state_dict().items()}


# -- validation --------------------------------------------------------------


def test_validation_fraction_records_valid_loss(digits_flat, tiny):
    ali = ALITransformer(validation_fraction=0.25, random_state=0, **tiny)
    ali.fit(digits_flat)
    history = ali.history_
    assert np.isfinite(history[:, "valid_loss"]).all()
    assert "valid_loss_best" in history[-1] and "train_loss" in history[-1]
    # 50 held-out rows, 150 for training (one batch of 100, the rest dropped).
    assert [b["valid_batch_size"] for b in history[-1, "batches"][1:]] == [50]
    assert [b["train_batch_size"] for b in history[-1, "batches"][:1]] == [100]


@pytest.mark.parametrize(
    "callback",
    [EarlyStopping(), Checkpoint(), EpochScoring(lambda net, X, y: 0.0)],
    ids=["EarlyStopping", "Checkpoint", "EpochScoring"],
)
def test_validation_callbacks_without_a_split_say_what_to_set(
    callback, digits_flat, tiny
):
    ali = ALITransformer(callbacks=[callback], random_state=0, **tiny)
    with pytest.raises(ValueError, match="set validation_fraction"):
        ali.fit(digits_flat)


def test_early_stopping_stops_on_valid_loss(digits_flat, tiny):
    # An improvement threshold no epoch can meet stops after patience epochs.
    stop = EarlyStopping(patience=2, threshold=10.0)
    ali = ALITransformer(
        callbacks=[stop], validation_fraction=0.2, random_state=0, **tiny
    ).set_params(max_epochs=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "interrupted" warning
        ali.fit(digits_flat)
    assert len(ali.history_) == 3
    assert "interrupted" not in ali.history_[-1]


def test_epoch_scoring_sees_encoder_means_of_held_out_rows(digits_flat, tiny):
    seen = []

    def mean_norm(net, X, y):
        Z = net.forward(X)  # the cached encoder means of the held-out rows
        seen.append(tuple(Z.shape))
        return float(Z.norm(dim=1).mean())

    ali = ALITransformer(
        callbacks=[EpochScoring(mean_norm, name="z_norm")],
        validation_fraction=0.2,
        random_state=0,
        **tiny,
    ).fit(digits_flat)
    assert seen == [(40, 4), (40, 4)]
    assert np.isfinite(ali.history_[:, "z_norm"]).all()


# -- checkpoints -------------------------------------------------------------


def test_checkpoint_saves_all_networks_and_both_players_optimizer(
    tmp_path, digits_flat, tiny
):
    cp = Checkpoint(dirname=str(tmp_path))
    ali = ALITransformer(
        callbacks=[cp], validation_fraction=0.2, random_state=0, **tiny
    ).fit(digits_flat)
    params = torch.load(tmp_path / "params.pt", weights_only=True)
    assert {k.split(".")[0] for k in params} == {"encoder", "decoder", "discriminator"}
    optimizer = torch.load(tmp_path / "optimizer.pt", weights_only=True)
    assert [g["player"] for g in optimizer["param_groups"]] == [
        "generators",
        "discriminator",
    ]
    n_params = sum(1 for _ in ali.net_.module_.parameters())
    assert len(optimizer["state"]) == n_params  # every parameter has Adam moments


def test_checkpoint_with_safetensors_and_load_init_state_resume(
    tmp_path, digits_flat, tiny
):
    def checkpoint():
        return Checkpoint(
            dirname=str(tmp_path), monitor=None, f_optimizer=None, use_safetensors=True
        )

    first = ALITransformer(callbacks=[checkpoint()], random_state=0, **tiny)
    first.fit(digits_flat)
    stored = load_file(tmp_path / "params.pt")
    for key, value in first.net_.module_.state_dict().items():
        torch.testing.assert_close(stored[key], value)

    cp = checkpoint()
    resumed = ALITransformer(
        callbacks=[cp, LoadInitState(cp, use_safetensors=True)],
        random_state=1,
        **tiny,
    ).set_params(max_epochs=1)
    resumed.fit(digits_flat)
    # The history goes on from the checkpoint's two epochs.
    assert len(resumed.history_) == 3


# -- optimizer settings --------------------------------------------------------


def test_lr_scheduler_schedules_both_players(digits_flat, tiny):
    ali = ALITransformer(
        callbacks=[LRScheduler(policy=StepLR, step_size=1, gamma=0.5)],
        learning_rate=1e-3,
        discriminator_learning_rate=4e-3,
        learning_rate_schedule="constant",  # the callback's schedule alone
        random_state=0,
        **tiny,
    ).set_params(max_epochs=3)
    ali.fit(digits_flat)
    groups = _groups(ali)
    assert groups["generators"]["lr"] == pytest.approx(1e-3 * 0.5**3)
    assert groups["discriminator"]["lr"] == pytest.approx(4e-3 * 0.5**3)


class LearningRateProbe(Callback):
    """Each training batch's rates, read before the batch's step."""

    def on_train_begin(self, net, **kwargs):
        self.rates_ = []

    def on_batch_begin(self, net, training=False, **kwargs):
        if training:
            self.rates_.append(
                {g["player"]: g["lr"] for g in net.optimizer_.param_groups}
            )


def test_linear_schedule_decays_both_players_to_zero_batch_by_batch(digits_flat, tiny):
    probe = LearningRateProbe()
    ali = ALITransformer(
        learning_rate_schedule="linear",
        learning_rate=1e-3,
        discriminator_learning_rate=4e-3,
        validation_fraction=0.25,
        callbacks=[("probe", probe)],
        random_state=0,
        **{**tiny, "batch_size": 50},
    ).set_params(max_epochs=3)
    ali.fit(digits_flat)
    rates = dict(ali.net_.callbacks_)["probe"].rates_
    # 150 training rows (50 held out) in batches of 50: 3 steps an epoch.
    assert len(rates) == 9
    for step, rate in enumerate(rates):
        assert rate["generators"] == pytest.approx(1e-3 * (1 - step / 9))
        assert rate["discriminator"] == pytest.approx(4e-3 * (1 - step / 9))
    assert all(g["lr"] == pytest.approx(0) for g in _groups(ali).values())

    # A warm start decays again from the estimator's rates, over its epochs.
    ali.set_params(warm_start=True, max_epochs=2, learning_rate=5e-4)
    before = _weights(ali)
    ali.fit(digits_flat)
    rates = dict(ali.net_.callbacks_)["probe"].rates_
    assert [r["generators"] for r in rates] == pytest.approx(
        [5e-4 * (1 - step / 6) for step in range(6)]
    )
    assert any(not torch.equal(before[k], v) for k, v in _weights(ali).items())


def test_linear_schedule_is_the_benchmarks_lr_scheduler(digits_flat, tiny):
    """The parameter trains exactly as skorch's LRScheduler with LambdaLR."""
    linear = ALITransformer(learning_rate_schedule="linear", random_state=0, **tiny)
    steps = tiny["max_epochs"] * (len(digits_flat) // linear.batch_size)
    stock = ALITransformer(
        callbacks=[
            LRScheduler(LambdaLR, lr_lambda=lambda i: 1 - i / steps, step_every="batch")
        ],
        learning_rate_schedule="constant",  # the callback's schedule alone
        random_state=0,
        **tiny,
    )
    constant = ALITransformer(
        learning_rate_schedule="constant", random_state=0, **tiny
    ).fit(digits_flat)
    a, b = _weights(linear.fit(digits_flat)), _weights(stock.fit(digits_flat))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], v) for k, v in _weights(constant).items())


def test_partial_fit_passes_keep_the_constant_rates(digits_flat, tiny):
    """One pass has no planned end to decay towards: the rates stay."""
    probe = LearningRateProbe()
    ali = ALITransformer(
        learning_rate_schedule="linear",
        callbacks=[("probe", probe)],
        random_state=0,
        **tiny,
    ).fit(digits_flat)
    assert _groups(ali)["generators"]["lr"] == 0  # the fit's decay ended at 0
    for _ in range(2):  # the first pass after the fit, then a later one
        ali.partial_fit(digits_flat)
        rates = dict(ali.net_.callbacks_)["probe"].rates_
        assert [r["generators"] for r in rates] == [
            ali.training_params_["learning_rate"]
        ] * 2
    fresh = ALITransformer(learning_rate_schedule="linear", random_state=0, **tiny)
    fresh.partial_fit(digits_flat)
    rate = fresh.training_params_["learning_rate"]
    assert rate > 0
    assert [g["lr"] for g in fresh.net_.optimizer_.param_groups] == [rate, rate]


class CycleWeightProbe(Callback):
    """The cycle term's weight that each epoch's first training batch plays with."""

    def on_train_begin(self, net, **kwargs):
        self.weights_ = []

    def on_epoch_begin(self, net, **kwargs):
        self.pending_ = True

    def on_batch_begin(self, net, training=False, **kwargs):
        if training and self.pending_:
            self.pending_ = False
            self.weights_.append(net.game_options["reconstruction_weight"])


def test_cycle_weight_moves_linearly_to_its_end_epoch_by_epoch(digits_flat, tiny):
    ali = ALITransformer(
        reconstruction_weight=20.0,
        reconstruction_weight_end=5.0,
        callbacks=[("probe", CycleWeightProbe())],
        random_state=0,
        **{**tiny, "max_epochs": 5},
    ).fit(digits_flat)
    weights = dict(ali.net_.callbacks_)["probe"].weights_
    assert weights == pytest.approx([20.0, 16.25, 12.5, 8.75, 5.0])
    # The fitted net's game is the estimator's again.
    assert ali.net_.game_options["reconstruction_weight"] == 20.0
    assert ali.training_params_["reconstruction_weight"] == 20.0

    # A warm start moves again from the estimator's weight, over its epochs.
    ali.set_params(warm_start=True, max_epochs=3, reconstruction_weight=10.0)
    ali.fit(digits_flat)
    weights = dict(ali.net_.callbacks_)["probe"].weights_
    assert weights == pytest.approx([10.0, 7.5, 5.0])

    # One pass has no planned end: the weight stays.
    ali.partial_fit(digits_flat)
    assert dict(ali.net_.callbacks_)["probe"].weights_ == [10.0]


@pytest.mark.parametrize("estimator", [ALIClassifier, ConditionalALI])
def test_every_estimator_moves_its_cycle_weight(estimator, digits, digits_flat, tiny):
    y = digits[1].copy()
    if estimator is ALIClassifier:
        y[50:] = -1  # semi-supervised: the rest unlabelled
    model = estimator(
        reconstruction_weight=8.0,
        reconstruction_weight_end=2.0,
        callbacks=[("probe", CycleWeightProbe())],
        random_state=0,
        **{**tiny, "max_epochs": 3},
    ).fit(digits_flat, y)
    assert dict(model.net_.callbacks_)["probe"].weights_ == [8.0, 5.0, 2.0]


def test_cycle_weight_end_trains_with_the_weights_it_sets(digits_flat, tiny):
    kept = ALITransformer(reconstruction_weight=20.0, random_state=0, **tiny)
    same_end = ALITransformer(
        reconstruction_weight=20.0,
        reconstruction_weight_end=20.0,
        random_state=0,
        **tiny,
    )
    moved = ALITransformer(
        reconstruction_weight=20.0,
        reconstruction_weight_end=0.0,
        random_state=0,
        **tiny,
    )
    a = _weights(kept.fit(digits_flat))
    b = _weights(same_end.fit(digits_flat))
    c = _weights(moved.fit(digits_flat))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)
    # Over two epochs the second plays the pure game, with no cycle term.
    assert moved.history_[:, "recon_loss"][0] > 0
    assert moved.history_[-1, "recon_loss"] == 0
    assert kept.history_[-1, "recon_loss"] > 0


def test_optimizer_settings_route_to_the_players(digits_flat, tiny):
    ali = ALITransformer(learning_rate_schedule="constant", random_state=0, **tiny).fit(
        digits_flat
    )
    ali.net_.set_params(optimizer__weight_decay=0.1)
    assert [g["weight_decay"] for g in ali.net_.optimizer_.param_groups] == [0.1, 0.1]
    ali.net_.set_params(optimizer_d__weight_decay=0.3, optimizer_d__lr=1e-3)
    groups = _groups(ali)
    assert groups["generators"]["weight_decay"] == 0.1
    assert groups["discriminator"]["weight_decay"] == 0.3
    assert groups["discriminator"]["lr"] == 1e-3
    assert groups["generators"]["lr"] == ali.training_params_["learning_rate"]


class GradNormProbe(Callback):
    def on_train_begin(self, net, **kwargs):
        self.norms_ = []

    def on_grad_computed(self, net, named_parameters, **kwargs):
        grads = [p.grad.norm() for _, p in named_parameters if p.grad is not None]
        self.norms_.append(float(torch.stack(grads).norm()))


def test_gradient_norm_clipping_clips_both_players(digits_flat, tiny):
    ali = ALITransformer(
        callbacks=[GradientNormClipping(1e-3), ("probe", GradNormProbe())],
        random_state=0,
        **tiny,
    ).fit(digits_flat)
    norms = dict(ali.net_.callbacks_)["probe"].norms_
    assert len(norms) == 4  # 2 epochs x 2 batches: called on every step
    assert max(norms) <= 1e-3 * 1.001


def _adam_steps(model):
    """Adam's step count of each player's first parameter."""
    state = model.net_.optimizer_.state
    return {
        group["player"]: int(state[group["params"][0]]["step"])
        for group in model.net_.optimizer_.param_groups
    }


@pytest.mark.parametrize("estimator", [ALITransformer, ALIClassifier, ConditionalALI])
def test_generator_steps_step_the_encoder_and_decoder_alone(
    estimator, digits, digits_flat, tiny
):
    y = digits[1].copy()
    if estimator is ALIClassifier:
        y[50:] = -1
    fit_args = (digits_flat,) if estimator is ALITransformer else (digits_flat, y)
    model = estimator(
        generator_steps=3,
        callbacks=[("probe", GradNormProbe())],
        random_state=0,
        **tiny,
    ).fit(*fit_args)
    # 2 epochs x 2 batches: D steps once per batch, the generators 3 times,
    # and every step goes through skorch's on_grad_computed.
    assert _adam_steps(model) == {"generators": 12, "discriminator": 4}
    assert len(dict(model.net_.callbacks_)["probe"].norms_) == 12
    assert len(model.history_[-1, "batches"]) == 2  # one record per batch
    # The extra steps move the generators; D trains on its own schedule.
    one = estimator(random_state=0, **tiny).fit(*fit_args)
    assert _adam_steps(one) == {"generators": 4, "discriminator": 4}
    more, fewer = _weights(model), _weights(one)
    assert any(not torch.equal(more[k], fewer[k]) for k in more if "coder" in k)
    if hasattr(model, "partial_fit"):  # ConditionalALI has none
        # A pass of partial_fit takes its extra steps too.
        model.partial_fit(*fit_args)
        assert _adam_steps(model) == {"generators": 18, "discriminator": 6}


def test_generator_steps_leave_the_discriminator_as_it_was(digits_flat, tiny):
    """The extra steps change neither D's weights nor its Adam moments."""
    # A constant rate: a decayed one ends at 0 and would move nothing.
    ali = ALITransformer(learning_rate_schedule="constant", random_state=0, **tiny).fit(
        digits_flat
    )
    net = ali.net_
    d_params = net._player_params()[0]
    before = [p.detach().clone() for p in d_params]
    moments = [net.optimizer_.state[p]["exp_avg"].clone() for p in d_params]
    batch = (torch.as_tensor(digits_flat[:100], dtype=torch.float32),)
    generators = [p.detach().clone() for p in net._player_params()[1]]
    net._zero_grad_optimizer()
    net.generator_step_single(batch)  # sets the module to training mode
    net.optimizer_.step()
    assert all(torch.equal(a, p) for a, p in zip(before, d_params))
    assert all(
        torch.equal(m, net.optimizer_.state[p]["exp_avg"])
        for m, p in zip(moments, d_params)
    )
    after = net._player_params()[1]
    assert any(not torch.equal(a, p) for a, p in zip(generators, after))


@pytest.mark.parametrize("value", [0, 1.5, True, "2"])
def test_generator_steps_refuses_what_is_not_a_positive_integer(
    value, digits_flat, tiny
):
    with pytest.raises((ValueError, TypeError), match="generator_steps"):
        ALITransformer(generator_steps=value, **tiny).fit(digits_flat)


# -- continuing training -----------------------------------------------------


def test_warm_start_continues_from_the_fitted_model(digits_flat, tiny):
    ali = ALITransformer(random_state=0, **tiny).fit(digits_flat)
    before = _weights(ali)
    steps = float(ali.net_.optimizer_.state_dict()["state"][0]["step"])
    ali.set_params(warm_start=True, max_epochs=3).fit(digits_flat)
    assert len(ali.history_) == 5
    # Adam went on counting: its state was continued, not restarted.
    assert ali.net_.optimizer_.state_dict()["state"][0]["step"] == steps + 3 * 2
    assert any(not torch.equal(before[k], v) for k, v in _weights(ali).items())
    # Reproducible: the same sequence of calls gives the same model.
    again = ALITransformer(random_state=0, **tiny).fit(digits_flat)
    again.set_params(warm_start=True, max_epochs=3).fit(digits_flat)
    np.testing.assert_array_equal(
        again.transform(digits_flat), ali.transform(digits_flat)
    )
    # Without warm_start, fit starts anew.
    ali.set_params(warm_start=False, max_epochs=2).fit(digits_flat)
    assert len(ali.history_) == 2


def test_warm_start_refuses_a_changed_architecture(digits_flat, tiny):
    ali = ALITransformer(warm_start=True, random_state=0, **tiny).fit(digits_flat)
    expected = ali.transform(digits_flat)
    with pytest.raises(ValueError, match=r"\['n_components'\] changed"):
        ali.set_params(n_components=8).fit(digits_flat)
    np.testing.assert_array_equal(ali.transform(digits_flat), expected)


def test_partial_fit_runs_one_epoch_per_call(digits_flat, tiny):
    ali = ALITransformer(random_state=0, **tiny)
    ali.partial_fit(digits_flat[:100])
    assert len(ali.history_) == 1
    offset = ali.data_offset_.copy()
    ali.partial_fit(digits_flat[100:])
    assert len(ali.history_) == 2
    np.testing.assert_array_equal(ali.data_offset_, offset)  # scaling of call 1
    with pytest.raises(ValueError, match="features"):
        ali.partial_fit(digits_flat[:, :10])
    assert len(ali.history_) == 2


def test_training_resumes_after_joblib_round_trip(tmp_path, digits_flat, tiny):
    ali = ALITransformer(random_state=0, **tiny).fit(digits_flat)
    joblib.dump(ali, tmp_path / "m.joblib")
    loaded = joblib.load(tmp_path / "m.joblib")
    loaded.partial_fit(digits_flat)
    assert len(loaded.history_) == 3
    assert np.isfinite(loaded.transform(digits_flat)).all()


# -- faults ------------------------------------------------------------------


def _all_finite(ali):
    tensors = list(ali.net_.module_.state_dict().values())
    for state in ali.net_.optimizer_.state.values():
        tensors += [v for v in state.values() if torch.is_tensor(v)]
    return all(torch.isfinite(t).all() for t in tensors if t.is_floating_point())


@pytest.mark.parametrize("learning_rate", [1e10, 1e38])
def test_divergence_keeps_finite_weights_buffers_and_optimizer_state(
    learning_rate, digits_images, tiny
):
    ali = ALITransformer(learning_rate=learning_rate, random_state=0, **tiny)
    ali.set_params(max_epochs=3)
    with pytest.raises(Exception) as excinfo:
        ali.fit(digits_images)
    assert type(excinfo.value).__name__ == "TrainingDivergedError"
    assert _all_finite(ali)
    assert np.isfinite(ali.transform(digits_images)).all()


class Boom(Callback):
    """Fails at the end of the second epoch of every fit."""

    def on_train_begin(self, net, **kwargs):
        self.epochs_ = 0

    def on_epoch_end(self, net, **kwargs):
        self.epochs_ += 1
        if self.epochs_ == 2:
            raise RuntimeError("boom")


def test_a_failing_refit_raises_its_cause_and_keeps_the_model(digits_flat, tiny):
    ali = ALITransformer(random_state=0, **tiny).fit(digits_flat)
    expected = ali.transform(digits_flat)
    net, mixture = ali.net_, ali.code_mixture_
    with pytest.raises(RuntimeError, match="boom"):
        ali.set_params(callbacks=[Boom()], n_components=3).fit(digits_flat)
    assert ali.net_ is net and ali.n_components_ == 4
    assert ali.code_mixture_ is mixture
    np.testing.assert_array_equal(ali.transform(digits_flat), expected)
    # The same for a warm start: weights, optimizer and history as they were.
    ali.set_params(n_components=4, warm_start=True, max_epochs=3)
    steps = float(ali.net_.optimizer_.state_dict()["state"][0]["step"])
    with pytest.raises(RuntimeError, match="boom"):
        ali.fit(digits_flat)
    np.testing.assert_array_equal(ali.transform(digits_flat), expected)
    assert len(ali.history_) == 2
    assert ali.net_.optimizer_.state_dict()["state"][0]["step"] == steps
    assert ali.code_mixture_ is mixture


def test_a_failing_first_fit_leaves_the_estimator_unfitted(digits_flat, tiny):
    from sklearn.exceptions import NotFittedError

    ali = ALITransformer(callbacks=[Boom()], random_state=0, **tiny)
    with pytest.raises(RuntimeError, match="boom"):
        ali.fit(digits_flat)
    with pytest.raises(NotFittedError):
        ali.transform(digits_flat)
    assert not [k for k in vars(ali) if k.endswith("_")]


class Interrupt(Callback):
    def on_batch_end(self, net, training=False, **kwargs):
        if training and len(net.history) == 2:
            raise KeyboardInterrupt


def test_keyboard_interrupt_is_reported(digits_flat, tiny):
    ali = ALITransformer(callbacks=[Interrupt()], random_state=0, **tiny)
    with pytest.warns(RuntimeWarning, match="interrupted .* during epoch 2"):
        ali.fit(digits_flat)
    assert ali.history_[-1]["interrupted"] is True
    assert np.isfinite(ali.transform(digits_flat)).all()


def test_fits_in_threads_match_serial_fits_and_keep_global_rng(digits_flat, tiny):
    def fit(seed):
        return ALITransformer(random_state=seed, **tiny).fit(digits_flat)

    serial = [fit(seed).transform(digits_flat) for seed in (0, 1, 2, 3)]
    state = torch.get_rng_state()
    results = [None] * 4

    def run(i):
        results[i] = fit(i).transform(digits_flat)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for expected, got in zip(serial, results):
        np.testing.assert_array_equal(got, expected)
    assert torch.equal(torch.get_rng_state(), state)


# -- pickles -------------------------------------------------------------------


def test_pickles_are_about_the_size_of_the_weights(tmp_path, digits_images, tiny):
    def size(model, name="m.joblib"):
        path = tmp_path / name
        joblib.dump(model, path)
        return path.stat().st_size

    plain = ALITransformer(random_state=0, **tiny).fit(digits_images)
    weights = sum(
        t.numel() * t.element_size() for t in plain.net_.module_.state_dict().values()
    )
    # Adam's two moments would triple it; the history and code add a little.
    assert size(plain) < weights + 60_000
    scheduled = ALITransformer(
        callbacks=[LRScheduler(policy=StepLR, step_size=1)], random_state=0, **tiny
    ).fit(digits_images)
    # The scheduler's optimizer is the net's, pickled once.
    assert size(scheduled, "scheduled.joblib") < size(plain) + 5_000
    # Callbacks travel in skorch's device-mapped state, where CUDA tensors are
    # mapped to the CPU on machines without CUDA.
    state = scheduled.net_.__getstate__()
    assert "callbacks_" not in state and "module_" not in state
    assert "__cuda_dependent_attributes__" in state
    loaded = joblib.load(tmp_path / "scheduled.joblib")
    scheduler = dict(loaded.net_.callbacks_)["LRScheduler"].lr_scheduler_
    assert scheduler.optimizer is loaded.net_.optimizer_


class PoisonFirstEpoch(Callback):
    def on_epoch_begin(self, net, **kwargs):
        with torch.no_grad():
            for p in net.encoder_.parameters():
                p.fill_(float("nan"))


def test_divergence_after_load_init_state_restores_the_loaded_weights(
    tmp_path, digits_flat, tiny
):
    cp = Checkpoint(dirname=str(tmp_path), monitor=None)
    ALITransformer(callbacks=[cp], random_state=0, **tiny).fit(digits_flat)
    loaded = torch.load(tmp_path / "params.pt", weights_only=True)
    resumed = ALITransformer(
        callbacks=[LoadInitState(cp), PoisonFirstEpoch()], random_state=1, **tiny
    )
    with pytest.raises(Exception, match="weights after epoch 2"):
        resumed.fit(digits_flat)
    for key, value in resumed.net_.module_.state_dict().items():
        torch.testing.assert_close(value, loaded[key], msg=key)


def test_progress_bar_counts_training_batches_only(capsys, digits_flat, tiny):
    ALITransformer(validation_fraction=0.5, verbose=1, random_state=0, **tiny).fit(
        digits_flat
    )
    final = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert "2/2" in final  # 100 training rows: one batch in each of 2 epochs


# -- what ALINet replaces of skorch, and skorch's side of it ----------------


@pytest.mark.parametrize(
    "key", ["iterator_train__shuffle", "iterator_valid__num_workers"]
)
def test_iterator_settings_are_refused_not_dropped(key):
    from skorch.dataset import Dataset

    net = _net(**{key: True})
    with pytest.raises(ValueError, match=rf"\['{key}'\] would have no effect"):
        net.fit(Dataset(np.zeros((20, 6), np.float32)), None)


def test_game_options_are_settable_on_an_initialised_net():
    from sklearn_ali._batches import RowBatches

    net = _net(game__reconstruction_weight=1.0).initialize()
    assert net.game_options == {
        "loss": "non_saturating",
        "reconstruction_weight": 1.0,
        "gradient_penalty": 0.0,
    }
    net.set_params(game__loss="hinge")  # no re-initialisation, no error
    assert net.batch_keys[2:4] == ("d_real_in_margin", "d_fake_in_margin")
    net.partial_fit(RowBatches(torch.randn(20, 6)), None)
    assert "d_real_in_margin" in net.history[-1]
    with pytest.raises(ValueError, match=r"no options \['wrong'\]"):
        net.set_params(game__wrong=1).partial_fit(RowBatches(torch.randn(20, 6)))


def test_the_skorch_methods_alinet_replaces_keep_their_signatures():
    """ALINet replaces fit_loop, run_single_epoch and get_iterator and relies
    on skorch's private _initialize_optimizer and _register_virtual_param;
    if skorch changes them, this fails before training silently does."""
    import inspect

    from skorch import NeuralNet

    from sklearn_ali import ALINet

    def positional(method):
        return [
            p.name
            for p in inspect.signature(method).parameters.values()
            if p.kind is p.POSITIONAL_OR_KEYWORD
        ]

    for name in ("fit_loop", "run_single_epoch", "get_iterator", "train_step"):
        ours, theirs = getattr(ALINet, name), getattr(NeuralNet, name)
        assert positional(ours) == positional(theirs), name
        # skorch's keyword-only extras (skorch 1.4's _routing_method of
        # fit_loop) pass through **fit_params to skorch's own code.
        kinds = [p.kind for p in inspect.signature(theirs).parameters.values()]
        if inspect.Parameter.KEYWORD_ONLY in kinds:
            assert "**fit_params" in str(inspect.signature(ours)), name
    assert list(inspect.signature(NeuralNet._register_virtual_param).parameters) == [
        "self",
        "param_patterns",
        "fn",
    ]
    assert "reason" in inspect.signature(NeuralNet._initialize_optimizer).parameters
    # skorch's train_step steps the optimizer after train_step_single and
    # notifies on_grad_computed between them: ALINet only computes gradients.
    source = inspect.getsource(NeuralNet.train_step)
    assert "train_step_single" in source and "_step_optimizer" in source
    # skorch's run_single_epoch records each batch's loss; ours records it
    # too, with the game's diagnostics beside it (and syncs once an epoch
    # on a GPU).
    assert "record_batch" in inspect.getsource(NeuralNet.run_single_epoch)


def test_the_installed_skorch_is_in_the_tested_range():
    """The suite runs against the skorch the install resolved: the newest the
    registry serves within the declared range, whose bounds say what was
    tested (see pyproject.toml)."""
    import re
    from importlib.metadata import requires, version

    (spec,) = [r for r in requires("sklearn-ali") if r.startswith("skorch")]
    bounds = {
        op: tuple(int(n) for n in number.split("."))
        for op, number in re.findall(r"(>=|<)\s*([\d.]+)", spec)
    }
    assert bounds.keys() == {">=", "<"}, spec
    installed = tuple(int(n) for n in version("skorch").split(".")[:2])
    assert bounds[">="] <= installed < bounds["<"], (spec, version("skorch"))
