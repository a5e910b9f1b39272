"""The orthogonal-convolution OCSDF network (configs/ocsdf/mnist_one_class.yaml's architecture) timed in
one process: one training step against the same architecture built from deel-torchlip layers
(``SpectralConv2d``, as the paper's code did), and inference of the exported (plain) network against
the trainable, parametrised one. Ratios, since these machines are noisy.

    python benchmarks/orthoconv_speed.py            # needs `pip install deel-torchlip` for the reference

Writes ``benchmarks/results/orthoconv_speed.json``.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from timing import write_results  # benchmarks/ is on sys.path when run as a script
from torch import nn

from lightning_occ.models.ocsdf.hkr_loss import hkr_loss
from lightning_occ.models.ocsdf.negatives import frozen_parameters, newton_raphson_negatives
from lightning_occ.nn.orthoconv import OrthoConvNet

RESULTS = Path(__file__).parent / "results" / "orthoconv_speed.json"
SHAPE, CHANNELS, CONVS = (1, 28, 28), (4, 16), (2, 3)
BATCH, STEPS = 128, 16


def deel_torchlip_net() -> nn.Module:
    """The same layers from deel-torchlip: spectrally normalised 2x2 stride-2 and 3x3 convolutions."""
    from deel import torchlip

    layers: list[nn.Module] = []
    in_channels = SHAPE[0]
    for width, count in zip(CHANNELS, CONVS):
        layers.append(torchlip.SpectralConv2d(in_channels, width, 2, stride=2))
        for _ in range(count):
            layers += [
                torchlip.SpectralConv2d(width, width, 3, padding=1, padding_mode="circular"),
                torchlip.GroupSort2(),
            ]
        in_channels = width
    size = SHAPE[1] // 2 ** len(CHANNELS)
    return nn.Sequential(*layers, nn.Flatten(), torchlip.FrobeniusLinear(in_channels * size * size, 1), nn.Flatten(0))


def time_training_steps(net: nn.Module, after_step, repeats: int = 5) -> float:
    torch.manual_seed(0)
    x = torch.rand(BATCH, *SHAPE)
    optimizer = torch.optim.RMSprop(net.parameters(), lr=1e-3)

    def step() -> None:
        with frozen_parameters(net):
            negatives = newton_raphson_negatives(net, torch.rand(BATCH, *SHAPE), STEPS, 20.0, -0.2, 0.0, 1.0)
        loss = hkr_loss(net(x), net(negatives), 0.2, 20.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        after_step()

    step()
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - start) / repeats


def time_inference(net: nn.Module, x: torch.Tensor, repeats: int = 3) -> float:
    best = float("inf")
    with torch.no_grad():
        for _ in range(repeats):
            start = time.perf_counter()
            for chunk in x.split(256):
                net(chunk)
            best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    torch.manual_seed(0)
    ours = OrthoConvNet(SHAPE, CHANNELS, CONVS, stem="patches")
    result: dict[str, object] = {
        "architecture": {"input": SHAPE, "channels": CHANNELS, "convs_per_stage": CONVS, "stem": "patches"},
        "batch": BATCH,
        "negative_steps": STEPS,
        "threads": torch.get_num_threads(),
    }
    result["train_step_s"] = time_training_steps(ours, ours.project_)
    try:
        result["deel_torchlip_train_step_s"] = time_training_steps(deel_torchlip_net(), lambda: None)
        result["train_step_ratio"] = result["train_step_s"] / result["deel_torchlip_train_step_s"]
    except ImportError:
        print("deel-torchlip is not installed (pip install deel-torchlip): no reference for the training step.")
    ours.eval()
    plain = ours.export()
    x = torch.rand(10_000, *SHAPE)
    with torch.no_grad():
        result["export_max_abs_difference"] = float((plain(x) - ours(x)).abs().max())
    result["parametrised_inference_s"] = time_inference(ours, x)
    result["exported_inference_s"] = time_inference(plain, x)
    result["export_inference_ratio"] = result["exported_inference_s"] / result["parametrised_inference_s"]
    result["bound_trainable"], result["bound_exported"] = ours.lipschitz_bound(), plain.lipschitz_bound()
    write_results(RESULTS, result)
    for key, value in result.items():
        print(f"  {key:30s} {value}")


if __name__ == "__main__":
    main()
