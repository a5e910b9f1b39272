import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from torchmetrics.classification import BinaryAUROC

from lightning_occ.metrics import CertifiedAUROC
from lightning_occ.metrics.functional import certified_auroc


def brute_force_lipschitz(scores, target, eps, lipschitz):
    anomalies = scores[target == 1].double() - lipschitz * eps
    normals = scores[target == 0].double() + lipschitz * eps
    diff = anomalies[:, None] - normals[None, :]
    return float(((diff > 0).double() + 0.5 * (diff == 0).double()).mean())


def brute_force_interval(lower, upper, target):
    diff = lower[target == 1][:, None] - upper[target == 0][None, :]
    return float(((diff > 0).double() + 0.5 * (diff == 0).double()).mean())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clean_auroc_equals_sklearn(seed):
    g = torch.Generator().manual_seed(seed)
    target = (torch.rand(3000, generator=g) < 0.3).long()
    scores = torch.randn(3000, generator=g) + target * 0.7
    ours = certified_auroc(scores, target, [0.0], lipschitz=1.0)
    assert abs(float(ours[0]) - roc_auc_score(target.numpy(), scores.numpy())) < 1e-6


def test_no_sigmoid_on_out_of_range_scores():
    # torchmetrics squashes scores outside [0, 1] with a sigmoid; large scores would then tie.
    scores = torch.tensor([100.0, 200.0, 300.0, 400.0])
    target = torch.tensor([0, 1, 0, 1])
    assert float(certified_auroc(scores, target, [0.0], lipschitz=1.0)[0]) == roc_auc_score(target, scores)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_lipschitz_mode_matches_brute_force_on_ties(seed):
    g = torch.Generator().manual_seed(seed)
    target = (torch.rand(400, generator=g) < 0.4).long()
    scores = torch.randint(0, 6, (400,), generator=g).float() * 0.5  # many exact ties
    epsilons = [0.0, 0.25, 0.5, 1.0, 3.0]
    lipschitz = 0.5  # shifts of 2*L*eps land exactly on the 0.5 grid: ties after shifting too
    ours = certified_auroc(scores, target, epsilons, lipschitz=lipschitz)
    expected = [brute_force_lipschitz(scores, target, e, lipschitz) for e in epsilons]
    assert ours.tolist() == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_interval_mode_matches_brute_force_on_ties(seed):
    g = torch.Generator().manual_seed(seed)
    n, k = 300, 3
    target = (torch.rand(n, generator=g) < 0.5).long()
    center = torch.randint(0, 5, (n, 1), generator=g).double()
    widths = torch.randint(0, 3, (n, k), generator=g).double().cumsum(1)
    lower, upper = center - widths, center + widths
    lower[0, 2] = -float("inf")  # an uncertified bound
    ours = certified_auroc(None, target, [0.1, 0.2, 0.3], lower=lower, upper=upper)
    expected = [brute_force_interval(lower[:, j], upper[:, j], target) for j in range(k)]
    assert ours.tolist() == pytest.approx(expected, abs=1e-12)


def test_certified_auroc_decreases_with_radius_and_hits_zero():
    g = torch.Generator().manual_seed(0)
    target = (torch.rand(500, generator=g) < 0.5).long()
    scores = torch.rand(500, generator=g) + target
    values = certified_auroc(scores, target, torch.linspace(0, 2, 9), lipschitz=1.0)
    assert torch.all(values[1:] <= values[:-1])
    assert float(values[-1]) == 0.0


def test_metric_accumulates_batches_like_functional():
    g = torch.Generator().manual_seed(0)
    target = (torch.rand(1000, generator=g) < 0.3).long()
    scores = torch.randn(1000, generator=g) + target
    metric = CertifiedAUROC([0.0, 0.1, 0.3], lipschitz=2.0)
    for s, t in zip(scores.split(97), target.split(97)):
        metric.update(s, t)
    assert torch.equal(metric.compute(), certified_auroc(scores, target, [0.0, 0.1, 0.3], lipschitz=2.0))
    reference = BinaryAUROC(thresholds=None)
    assert float(metric.compute()[0]) == pytest.approx(float(reference(torch.sigmoid(scores), target)), abs=1e-6)


def test_metric_plot_returns_figure():
    metric = CertifiedAUROC([0.0, 0.5], lipschitz=1.0)
    metric.update(torch.tensor([0.1, 0.9, 0.2, 0.8]), torch.tensor([0, 1, 0, 1]))
    figure, axes = metric.plot()
    assert len(axes.lines[0].get_xdata()) == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(epsilons=[-0.1], lipschitz=1.0), ">= 0"),
        (dict(epsilons=[0.1]), "needs either"),
        (dict(epsilons=[0.1], lipschitz=1.0, lower=torch.zeros(4, 1), upper=torch.zeros(4, 1)), "not both"),
        (dict(epsilons=[0.1, 0.2], lower=torch.zeros(4, 1), upper=torch.zeros(4, 1)), "shape"),
    ],
)
def test_bad_arguments_are_explained(kwargs, message):
    scores, target = torch.tensor([0.1, 0.9, 0.2, 0.8]), torch.tensor([0, 1, 0, 1])
    with pytest.raises(ValueError, match=message):
        certified_auroc(scores, target, **kwargs)


def test_single_class_test_set_is_refused():
    with pytest.raises(ValueError, match="only normal samples"):
        certified_auroc(torch.rand(5), torch.zeros(5), [0.0], lipschitz=1.0)
    with pytest.raises(ValueError, match="only anomalies"):
        certified_auroc(torch.rand(5), torch.ones(5), [0.0], lipschitz=1.0)


def test_nan_scores_are_refused():
    with pytest.raises(ValueError, match="NaN"):
        certified_auroc(torch.tensor([0.1, np.nan]), torch.tensor([0, 1]), [0.0], lipschitz=1.0)


def test_exact_auroc_ranks_close_scores_like_sklearn():
    from sklearn.metrics import roc_auc_score

    from lightning_occ.metrics import ExactAUROC

    generator = torch.Generator().manual_seed(0)
    target = torch.randint(0, 2, (400,), generator=generator)
    scores = -0.25 - 1e-6 * torch.rand(400, generator=generator, dtype=torch.float64) - 1e-7 * target  # ODIN at T=1000
    metric = ExactAUROC()
    for part in range(4):
        metric.update(scores[part * 100 : (part + 1) * 100], target[part * 100 : (part + 1) * 100])
    assert float(metric.compute()) == pytest.approx(roc_auc_score(target.numpy(), scores.numpy()), abs=1e-12)


def test_fractional_labels_are_refused_before_any_cast():
    import pytest

    from lightning_occ.metrics import CertifiedAUROC
    from lightning_occ.metrics.functional import certified_auroc

    scores, labels = torch.tensor([0.1, 0.2, 0.3, 0.4]), torch.tensor([0, 0.7, 0, 1])
    with pytest.raises(ValueError, match="0 \\(normal\\) and 1 \\(anomaly\\) only; found 0.7"):
        certified_auroc(scores, labels, [0.0], lipschitz=1.0)
    with pytest.raises(ValueError, match="found 0.7"):
        CertifiedAUROC([0.0], lipschitz=1.0).update(scores, labels)


def test_compute_without_data_says_so():
    import pytest

    from lightning_occ.metrics import CertifiedAUROC

    with pytest.raises(ValueError, match="before any update\\(\\): it has no scores"):
        CertifiedAUROC([0.0, 0.1], lipschitz=1.0).compute()


def test_rounding_error_widens_every_perturbed_margin_but_not_the_clean_auroc():
    from lightning_occ.metrics.functional import certified_auroc

    scores, target = torch.tensor([0.0, 1.0]), torch.tensor([0, 1])
    # separated by 1: at eps = 0.25 (L = 1) the margin left is 1 - 2 * 0.25 = 0.5; a rounding bound e
    # moves each side by 2e more, so e = 1/8 closes it exactly (a tie counts 1/2) and a smaller e does not
    exact = certified_auroc(scores, target, [0.0, 0.25], lipschitz=1.0)
    widened = certified_auroc(scores, target, [0.0, 0.25], lipschitz=1.0, score_error=torch.tensor([0.125, 0.125]))
    assert exact.tolist() == [1.0, 1.0] and widened.tolist() == [1.0, 0.5]
    slightly = certified_auroc(scores, target, [0.0, 0.25], lipschitz=1.0, score_error=0.12)
    assert slightly.tolist() == [1.0, 1.0]
