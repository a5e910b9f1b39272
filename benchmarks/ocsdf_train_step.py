"""Time one OCSDF training step: lightning-occ's network against deel-torchlip and references.

Setting from the Foundation issue: width 512, 4 hidden layers, 30 features, batch 128, T = 4
Newton-Raphson negative steps, RMSprop. All networks run the same step function in one process and
the figures are reported as ratios to deel-torchlip (machines here are noisy).

    python benchmarks/ocsdf_train_step.py            # needs `pip install deel-torchlip`
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from torch import nn

from lightning_occ.models.ocsdf.hkr_loss import hkr_loss
from lightning_occ.models.ocsdf.negatives import frozen_parameters, newton_raphson_negatives
from lightning_occ.nn import FullSort, LipschitzMLP


def deel_torchlip_net(features: int, width: int, depth: int) -> nn.Module:
    from deel import torchlip

    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [torchlip.SpectralLinear(features if i == 0 else width, width), torchlip.FullSort()]
    return nn.Sequential(*layers, torchlip.FrobeniusLinear(width, 1), nn.Flatten(0))


def parametrized_orthogonal_net(features: int, width: int, depth: int) -> nn.Module:
    from torch.nn.utils.parametrizations import orthogonal

    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [orthogonal(nn.Linear(features if i == 0 else width, width)), FullSort()]
    return nn.Sequential(*layers, nn.Linear(width, 1), nn.Flatten(0))


def unconstrained_net(features: int, width: int, depth: int) -> nn.Module:
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(features if i == 0 else width, width), FullSort()]
    return nn.Sequential(*layers, nn.Linear(width, 1), nn.Flatten(0))


def time_steps(net: nn.Module, after_step: Callable[[], None], args: argparse.Namespace) -> float:
    torch.manual_seed(0)
    x = torch.randn(args.batch, args.features)
    optimizer = torch.optim.RMSprop(net.parameters(), lr=5e-4)

    def step() -> None:
        z = torch.randn(args.batch, args.features).clamp(-5, 5)
        with frozen_parameters(net):
            negatives = newton_raphson_negatives(net, z, args.steps, 1.0, 0.0, -5.0, 5.0)
        loss = hkr_loss(net(x), net(negatives), 0.05, 100.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        after_step()

    for _ in range(args.warmup):
        step()
    start = time.perf_counter()
    for _ in range(args.repeats):
        step()
    return (time.perf_counter() - start) / args.repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--features", type=int, default=30)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    shape = (args.features, args.width, args.depth)

    ours = LipschitzMLP(*shape)
    results = {"lightning-occ (re-projected orthogonal)": time_steps(ours, ours.project_, args)}
    results["lightning-occ lipschitz_bound after the steps"] = ours.lipschitz_bound()
    try:
        results["deel-torchlip (SpectralLinear + FullSort)"] = time_steps(deel_torchlip_net(*shape), lambda: None, args)
    except ImportError:
        print("deel-torchlip is not installed (pip install deel-torchlip); skipping the reference.")
    results["torch parametrizations.orthogonal"] = time_steps(parametrized_orthogonal_net(*shape), lambda: None, args)
    results["unconstrained MLP"] = time_steps(unconstrained_net(*shape), lambda: None, args)

    reference = results.get("deel-torchlip (SpectralLinear + FullSort)")
    print(
        f"OCSDF training step, {args.features} features, width {args.width}, depth {args.depth}, "
        f"batch {args.batch}, T={args.steps}, torch threads {torch.get_num_threads()}"
    )
    for name, value in results.items():
        if "bound" in name:
            print(f"  {name:48s} {value:.7f}")
            continue
        ratio = f"  {value / reference:5.2f}x deel-torchlip" if reference else ""
        print(f"  {name:48s} {value:7.3f} s/step{ratio}")


if __name__ == "__main__":
    main()
