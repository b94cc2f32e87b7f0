"""Batched inference of the ALI estimators, and the dask dispatch.

Encoding and decoding run in batches of ``INFERENCE_BATCH`` rows (memory
bounded independently of n_samples), scale raw rows where they land and
check what the networks give back. A method of X decorated with
``over_dask_blocks`` maps a dask X block by block, written once here.
"""

import functools
import math

import numpy as np
import torch
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._scaling import (
    FLOAT32_OVERFLOW,
    check_finite,
    is_dask_array,
    read_rows,
    scale_batch,
    scaling_tensors,
    to_torch_rows,
)

# Rows per forward pass in transform/inverse_transform/sample: bounds memory
# independently of n_samples.
INFERENCE_BATCH = 512
FEATURES = frozenset({"mean", "sample", "hidden"})

# Discriminator rejection sampling (``sample``): prior draws per round, per
# sample asked for (enough for one round at the 9-19 % kept on MNIST-5k),
# within bounds, so that a few samples of a large network cost a few hundred
# passes; and the bound on D's logits as a quantile of the first round's.
# Azadi et al. (2019) take the largest logit of a burn-in; a quantile keeps at
# least about 1 % of the draws whatever a few extreme logits (the largest kept
# 2.5-6.8 % of them on MNIST-5k, and fewer of the rarest class; see the
# benchmarks page).
REJECTION_DRAWS_PER_SAMPLE = 20
REJECTION_DRAWS = (100, 10_000)
REJECTION_QUANTILE = 0.99

# Latent codes beyond this magnitude are about impossible under N(0, I): a
# decoder that overflows on them is blamed on the codes, on others on itself.
PLAUSIBLE_CODE = 1e3


def over_dask_blocks(n_outputs, dtype):
    """Decorator: ``method(self, X, *others)`` maps a dask X block by block.

    ``n_outputs(self)`` is the width of the result (None: 1-D) and
    ``dtype(self, X)`` its dtype; for any other X the method runs as is.
    The blocks call the bound method, which pickles by reference, so a
    cluster's workers each get a copy of the fitted model.
    """

    def decorate(method):
        @functools.wraps(method)
        def dispatch(self, X, *others, **kwargs):
            if not is_dask_array(X):
                return method(self, X, *others, **kwargs)
            check_is_fitted(self)
            return self._over_dask_blocks(
                getattr(self, method.__name__),
                X,
                *others,
                n_outputs=n_outputs(self),
                dtype=dtype(self, X),
            )

        return dispatch

    return decorate


def check_finite_output(values, network, first_row):
    """Raise ValueError where a network's output for finite input is not finite.

    The inputs were checked finite, so the weights are the likely cause:
    a fit that diverged without a non-finite loss, or edited parameters.
    """
    if math.isfinite(values.sum(dtype=np.float64)) or np.isfinite(values).all():
        return
    bad = ~np.isfinite(values.reshape(len(values), -1)).all(axis=1)
    row = first_row + int(np.flatnonzero(bad)[0])
    raise ValueError(
        f"The {network} gave NaN or infinite outputs for finite inputs (first "
        f"at row {row}): its weights are likely diverged (a learning_rate too "
        "high for the data) or were tampered with. Refit the model, for "
        "example with a smaller learning_rate."
    )


def feature_dtype(X):
    """The dtype of features of X: X's float dtype, float64 for integers."""
    dtype = np.dtype(X.dtype)
    return dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)


def _feature_dtype_of(estimator, X):
    return feature_dtype(X)


class InferenceMixin:
    """Batched encoding and decoding of ``BaseALI``, and its dask dispatch."""

    def _hidden_width(self):
        return sum(width for _, width in self._hidden_parts())

    def _hidden_parts(self):
        """``(name, width)`` of the parts of the "hidden" features, probed.

        An encoder of one's own without ``hidden_feature_parts`` has one
        "hidden" part before "mu".
        """
        probe = torch.zeros(2, *self._network_input_shape())
        probe = probe.to(self._module_device())
        encoder = self.net_.encoder_
        training = encoder.training
        encoder.eval()
        try:
            with torch.inference_mode():
                if hasattr(encoder, "hidden_feature_parts"):
                    return encoder.hidden_feature_parts(probe)
                width = encoder.hidden_features(probe).shape[1]
        finally:
            encoder.train(training)
        return [("hidden", width - self.n_components_), ("mu", self.n_components_)]

    def _hidden_feature_names(self):
        """Names of the "hidden" features: ``<estimator>_<part>_<index>``,
        the part being the encoder block a column comes from, or ``mu``."""
        prefix = type(self).__name__.lower()
        return np.asarray(
            [
                f"{prefix}_{part}_{j}"
                for part, width in self._hidden_parts()
                for j in range(width)
            ],
            dtype=object,
        )

    def _network_input_shape(self):
        """The encoder's input shape, without the batch dimension."""
        if self.architecture_ == "mlp" or self.image_shape_ is None:
            return (self.n_features_in_,)
        return self.image_shape_

    def _module_device(self):
        return next(self.net_.encoder_.parameters()).device

    def network_input(self, X, device="cpu"):
        """X as the networks see it: scaled by the fitted scaling, shaped as
        the encoder's input, as one float32 tensor.

        For probing the networks directly (``estimator.encoder_``, ...) with
        what ``fit`` trained them on; ``transform`` and the other methods
        read X in batches instead of holding it whole.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Data shaped as in ``fit``.
        device : str or torch.device, default="cpu"
            Where the tensor goes.

        Returns
        -------
        x : Tensor
            Shaped ``(n_samples, n_features)`` for the MLP and
            ``(n_samples, C, H, W)`` for image networks.
        """
        check_is_fitted(self)
        X, _ = self._validate_X(X, reset=False)
        scaling = self._scaling()
        batches = [
            self._network_batch(
                read_rows(X, slice(i, i + INFERENCE_BATCH)), "cpu", scaling
            )
            for i in range(0, X.shape[0], INFERENCE_BATCH)
        ]
        return torch.cat(batches).to(device)

    def _network_batch(self, rows, device, scaling, first_row=0):
        """Raw rows of X (numpy) as a scaled, network-shaped batch on ``device``.

        The rows travel in their own dtype (integer pixels as integers) and
        are scaled there by ``scaling`` (``_scaling()``'s tensors, on
        ``device``). Raises ValueError where the fitted scaling takes a value
        beyond float32's range.
        """
        x = to_torch_rows(rows).to(device).reshape(len(rows), -1)
        x = scale_batch(x, *scaling)
        # A sum is the cheapest pass that sees an inf (it costs a tenth of a
        # small model's transform less than isfinite); only a non-finite sum,
        # of huge but finite values too, needs the exact check.
        if not math.isfinite(x.sum()) and not torch.isfinite(x).all():
            check_finite(rows, first_row)
            raise ValueError(FLOAT32_OVERFLOW)
        return x.reshape(len(rows), *self._network_input_shape())

    def _scaling(self):
        """(shift, factor) tensors with x_scaled = shift + x * factor."""
        return scaling_tensors(
            self.data_offset_, self.data_scale_, images=self.image_shape_ is not None
        )

    def _encode_batch(self, x, noise=None):
        encoder = self.net_.encoder_
        if self.features == "hidden":
            return encoder.hidden_features(x)
        if self.features == "sample":
            return encoder.sample(x, noise=noise)[0]
        return encoder.mean(x)

    def _batched_encode(self, X, fn, condition=None):
        """``fn(x, noise)`` over batches of X, or ``fn(x, noise, c)`` with the
        matching rows ``c`` of a ``condition`` tensor."""
        out_dtype = feature_dtype(X)
        device = self._module_device()
        scaling = tuple(t.to(device) for t in self._scaling())
        self.net_.encoder_.eval()
        out = None  # allocated once the first batch gives the width
        # features="sample" draws its noise from random_state, not torch's RNG.
        sample = getattr(self, "features", None) == "sample"  # not every model has it
        rng = check_random_state(self.random_state) if sample else None
        n_samples = X.shape[0]
        with torch.inference_mode():
            for start in range(0, n_samples, INFERENCE_BATCH):
                rows = read_rows(X, slice(start, start + INFERENCE_BATCH))
                x = self._network_batch(rows, device, scaling, first_row=start)
                noise = None
                if rng is not None:
                    noise = rng.standard_normal((len(x), self.n_components_))
                    noise = torch.tensor(noise, dtype=torch.float32, device=device)
                args = (x, noise)
                if condition is not None:
                    c = condition[start : start + INFERENCE_BATCH]
                    args += (c.to(device),)
                features = fn(*args).float().cpu().numpy()
                check_finite_output(features, "encoder", start)
                if out is None:
                    out = np.empty((n_samples, features.shape[1]), dtype=out_dtype)
                out[start : start + len(x)] = features
        return out

    def _over_dask_blocks(self, method, X, *others, n_outputs, dtype):
        """``method(X_block, *other_blocks)`` over X's blocks of rows, lazily.

        For X a dask array: the result is a dask array whose blocks a
        cluster's workers compute in parallel, each with its own copy of this
        fitted model. ``others`` (say, conditions) are split as X's rows;
        ``n_outputs`` None gives a 1-D result.
        """
        import dask.array as da

        self._validate_X(X, reset=False)  # shape and dtype now, values per block
        # Blocks of whole rows: row axis "r", the other axes in one block each.
        arrays = []
        for i, array in enumerate((X, *others)):
            array = da.asarray(array)
            array = array.rechunk((X.chunks[0], *(-1,) * (array.ndim - 1)))
            arrays += [array, "r" + "abcdefghijkl"[4 * i : 4 * i + array.ndim - 1]]
        if n_outputs is None:
            out_index, new_axes, meta = "r", {}, np.empty((0,), dtype)
        else:
            out_index, new_axes = "rz", {"z": n_outputs}
            meta = np.empty((0, n_outputs), dtype)
        return da.blockwise(
            method,
            out_index,
            *arrays,
            new_axes=new_axes,
            concatenate=True,
            dtype=dtype,
            meta=meta,
        )

    def _code_batches(self, Z, condition=None):
        """``(start, args)`` over batches of the rows of Z: ``args`` is
        ``(z,)``, or ``(z, c)`` with the rows of a ``condition`` tensor, on
        the networks' device, as the decoder takes them."""
        device = self._module_device()
        for start in range(0, len(Z), INFERENCE_BATCH):
            z = torch.tensor(Z[start : start + INFERENCE_BATCH], dtype=torch.float32)
            args = (z.to(device),)
            if condition is not None:
                args += (condition[start : start + INFERENCE_BATCH].to(device),)
            yield start, args

    def _decoded_logits(self, Z, condition=None):
        """D(G_x(z), z), or D(G_x(z, c), z, c) given rows of a ``condition``
        tensor, for rows z of Z: the discriminator's logits, float64."""
        decoder, discriminator = self.net_.decoder_, self.net_.discriminator_
        decoder.eval()
        discriminator.eval()
        logits = np.empty(len(Z))
        with torch.inference_mode():
            for start, args in self._code_batches(Z, condition):
                out = discriminator(decoder(*args), *args).float().cpu().numpy()
                check_finite_output(out, "discriminator", start)
                logits[start : start + len(out)] = out.reshape(len(out))
        return logits

    def _check_rejection(self, value, *, mixture=False):
        """``sample``'s ``discriminator_rejection`` as a bool for the fitted
        game, and for codes from the prior or (``mixture``) not."""
        loss = self.net_.game_options["loss"]
        logistic = loss == "non_saturating"
        if isinstance(value, str) and value == "auto":
            return logistic and not mixture
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(
                f'discriminator_rejection must be "auto", True or False; got {value!r}.'
            )
        if value and not logistic:
            raise ValueError(
                "discriminator_rejection=True needs a discriminator trained "
                "with loss='non_saturating', whose logit estimates the "
                "log-ratio of the two joints; this model was fitted with "
                f"loss={loss!r}."
            )
        if value and mixture:
            raise ValueError(
                "discriminator_rejection=True keeps prior draws by the "
                "discriminator's estimate of log q(x, z) / p(x, z), which holds "
                "for codes of the prior only; these codes come from the "
                'mixture of the training codes. Sample with codes="prior", or '
                "without the rejection."
            )
        return bool(value)

    def _rejection_codes(self, n_samples, rng, condition=None):
        """``n_samples`` prior codes kept by discriminator rejection sampling,
        one for each row of a ``condition`` tensor where given.

        At its optimum ALI's D scores a pair with the log-ratio of the
        encoder joint to the decoder joint, log q(x, z) / p(x, z) (given the
        condition, for the conditional model, whose D sees both joints with
        the same conditions). Keeping a draw (G_x(z), z) of p with
        probability min(1, exp(logit - M)), for a bound M of the logits,
        keeps draws of q, whose x are distributed as the data (Azadi et al.,
        "Discriminator Rejection Sampling", 2019). Codes and the uniform
        draws of the test come from ``rng``, in rounds of
        ``REJECTION_DRAWS_PER_SAMPLE`` draws per sample (within
        ``REJECTION_DRAWS``) shared among the distinct conditions still short
        of codes, in proportion to how many each lacks; M is the
        ``REJECTION_QUANTILE`` quantile of the first round's logits. Rows
        with the same condition take its kept codes in order.
        """
        if condition is None:
            conditions, group = None, np.zeros(n_samples, dtype=np.intp)
        else:
            conditions, group = torch.unique(condition, dim=0, return_inverse=True)
            group = group.numpy()
        missing = np.bincount(group)
        kept = [[] for _ in missing]
        # The top 1 % of the first round passes outright, so a draw is kept
        # with a chance of about 1 % or more unless a condition's logits all
        # lie far below the others': give up after 100 times the draws that
        # rate needs.
        low, high = REJECTION_DRAWS
        size = min(high, max(low, REJECTION_DRAWS_PER_SAMPLE * n_samples))
        budget = max(100 * size, 100 * n_samples / (1 - REJECTION_QUANTILE))
        bound, drawn = None, 0
        while missing.any():
            if drawn >= budget:
                short = np.count_nonzero(missing)
                where = "" if conditions is None else f" for {short} condition(s)"
                raise ValueError(
                    f"The discriminator rejected nearly every one of {drawn} "
                    f"draws{where}; sample with discriminator_rejection=False."
                )
            wanted = np.flatnonzero(missing)
            share = missing[wanted] / missing.sum()
            which = np.repeat(wanted, np.ceil(size * share).astype(int))
            Z = rng.standard_normal((len(which), self.n_components_))
            drawn += len(Z)
            given = None if conditions is None else conditions[torch.as_tensor(which)]
            logits = self._decoded_logits(Z, given)
            if bound is None:
                bound = np.quantile(logits, REJECTION_QUANTILE)
            accept = rng.random_sample(len(Z)) < np.exp(np.minimum(logits - bound, 0))
            for g in wanted:
                taken = Z[accept & (which == g)][: missing[g]]
                kept[g].append(taken)
                missing[g] -= len(taken)
        codes = np.empty((n_samples, self.n_components_))
        for g, parts in enumerate(kept):
            codes[group == g] = np.concatenate(parts)
        return codes

    def _decode(self, Z, condition=None):
        """G_x(z), or G_x(z, c) given rows of a ``condition`` tensor, in X's units."""
        largest = max(Z.max(), -Z.min())
        if largest > np.finfo(np.float32).max:
            raise ValueError(
                f"Latent codes exceed float32's range (largest magnitude "
                f"{largest:.3g}); the decoder runs in float32."
            )
        decoder = self.net_.decoder_
        decoder.eval()
        X = np.empty((len(Z), self.n_features_in_))
        with torch.inference_mode():
            for start, args in self._code_batches(Z, condition):
                x = decoder(*args).float().cpu().numpy()
                if not np.isfinite(x).all():
                    largest = np.abs(Z[start : start + len(x)]).max()
                    if largest <= PLAUSIBLE_CODE:
                        check_finite_output(x, "decoder", start)
                    raise ValueError(
                        "The decoder's float32 output overflowed for latent "
                        f"codes of magnitude up to {largest:.3g}, too far "
                        "from the N(0, I) prior to decode."
                    )
                # Scaled in place per batch: ``X * scale + offset`` over the
                # whole output would hold two more output-sized temporaries.
                out = X[start : start + len(x)]
                out[...] = x.reshape(len(x), -1)
                with np.errstate(over="ignore", invalid="ignore"):
                    np.multiply(out, self.data_scale_, out=out)
                    out += self.data_offset_
                if not np.isfinite(out).all():
                    raise ValueError(
                        "Decoded values exceed float64's range once scaled back "
                        "to X's units by data_scale_ (up to "
                        f"{np.max(self.data_scale_):.3g})."
                    )
        if self._input_ndim_ == 4:
            return X.reshape(len(X), *self.image_shape_)
        return X


class EncoderFeaturesMixin(ClassNamePrefixFeaturesOutMixin, TransformerMixin):
    """``transform`` and ``encode`` of the estimators with ``features``, and
    the names of the columns ``transform`` returns.

    A TransformerMixin itself: scikit-learn wraps ``transform`` for
    ``set_output`` in the class that defines it.
    """

    @property
    def _n_features_out(self):
        # A property, not a fitted value: ``features`` may be switched on a
        # fitted model (one fit, several feature sets).
        check_is_fitted(self)
        self._check_features()
        if self.features != "hidden":
            return self.n_components_
        return self._hidden_width()

    def _check_features(self):
        # features is read after fit: a set_params(features=...) on a fitted
        # model bypasses fit's parameter validation.
        if not isinstance(self.features, str) or self.features not in FEATURES:
            raise ValueError(
                f"features={self.features!r} is not one of {sorted(FEATURES)}."
            )

    def get_feature_names_out(self, input_features=None):
        """Names of the columns of ``transform``.

        With ``features="hidden"``, ``<estimator>_<part>_<index>``: the part
        is the encoder block the column comes from, counted from ``block0``,
        the encoder's first block (so a net with more than three blocks
        starts later), or ``mu``, the latent mean; otherwise
        ``<estimator><index>``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Checked against the names seen in ``fit``; unused otherwise.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        self._check_features()
        names = super().get_feature_names_out(input_features)
        return self._hidden_feature_names() if self.features == "hidden" else names

    @over_dask_blocks(lambda self: self._n_features_out, _feature_dtype_of)
    def transform(self, X):
        """Encode X into features (see ``features``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Data shaped as in ``fit``: in memory, a memmap, an h5py or zarr
            dataset (read in batches) or a dask array.

        Returns
        -------
        X_new : ndarray or dask array of shape (n_samples, n_features_out)
            Encoder features, in X's float dtype (float64 for integer input);
            a dask array, computed block by block, for a dask X.
        """
        check_is_fitted(self)
        self._check_features()
        X, _ = self._validate_X(X, reset=False)
        return self._batched_encode(X, self._encode_batch)

    @over_dask_blocks(lambda self: self.n_components_, _feature_dtype_of)
    def encode(self, X):
        """Latent means mu(x), whatever ``features`` is.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Data shaped as in ``fit``.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components)
        """
        check_is_fitted(self)
        X, _ = self._validate_X(X, reset=False)
        return self._mean_codes(X)

    def _mean_codes(self, X):
        """mu(x) for the rows of a validated X."""
        return self._batched_encode(X, lambda x, noise: self.net_.encoder_.mean(x))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
