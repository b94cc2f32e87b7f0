"""scikit-learn's estimator checks on a small ALITransformer."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_ali import ALITransformer

# A failing check must be listed here with its reason.
EXPECTED_FAILED_CHECKS = {
    "check_methods_subset_invariance": (
        "transform runs float32 networks; with several CPU threads, a matrix "
        "product over a mini-batch can round differently from the same rows in "
        "a larger batch (seen: 1.8e-07 absolute on one element), beyond the "
        "check's rtol=1e-07 tolerance. Row-by-row agreement to float32 precision "
        "is tested in test_transform_is_per_sample_and_batched."
    ),
}


@parametrize_with_checks(
    [
        ALITransformer(
            n_components=2,
            hidden_layer_sizes=(8,),
            max_epochs=2,
            batch_size=16,
            random_state=0,
        ),
        ALITransformer(
            n_components=3,
            hidden_layer_sizes=(8, 8),
            encoder="deterministic",
            features="hidden",
            max_epochs=1,
            batch_size=16,
            random_state=0,
        ),
    ],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
