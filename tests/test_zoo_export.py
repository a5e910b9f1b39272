"""Zoo weight files: certified detectors keep float32, the others are stored in float16 and load back
into a float32 model; an export that fails leaves no file behind."""

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lightning_occ.models import CLAD, OCSDF
from lightning_occ.zoo.export import export_weights, storage_dtype


def tiny_clad() -> CLAD:
    return CLAD(
        input_shape=(1, 8, 8),
        num_clusters=3,
        latent_dim=4,
        ae_channels=(8, 8),
        classifier="resnet18",
        classifier_kwargs={"channels": [8, 8, 8, 8]},
        temperature=[1.0, 10.0],
        odin_eps=[0.0, 0.002],
    )


def test_a_certified_detector_keeps_float32_weights(tmp_path):
    model = OCSDF(in_features=3, width=16, depth=2)
    assert storage_dtype(model) == torch.float32
    assert export_weights(model, tmp_path / "ocsdf.safetensors") == torch.float32
    stored = load_file(str(tmp_path / "ocsdf.safetensors"))
    for name, value in model.state_dict().items():
        assert stored[name].dtype == value.dtype
        assert torch.allclose(stored[name], value, rtol=0, atol=0, equal_nan=True)  # bit for bit


def test_a_detector_without_bound_is_stored_in_float16_and_loads_back_as_float32(tmp_path):
    model = tiny_clad()
    model.odin.temperature.fill_(10.0)
    model.odin.epsilon.fill_(0.002)
    assert model.lipschitz_bound is None
    path = tmp_path / "clad.safetensors"
    assert export_weights(model, path) == torch.float16
    stored = load_file(str(path))
    state = model.state_dict()
    for name, value in state.items():
        expected = torch.float16 if value.dtype == torch.float32 else value.dtype
        assert stored[name].dtype == expected, name
    assert stored["odin.epsilon"].item() == 0.002  # float64 settings are kept exactly
    payload = {name: value.numel() * value.element_size() for name, value in stored.items()}
    assert sum(payload.values()) < 0.55 * sum(v.numel() * v.element_size() for v in state.values())

    loaded = tiny_clad()
    loaded.load_state_dict(stored)
    weight = loaded.autoencoder.encoder[0].weight
    assert weight.dtype == torch.float32
    assert torch.equal(weight, model.autoencoder.encoder[0].weight.half().float())
    assert loaded.odin.current() == (10.0, 0.002)


def test_a_failed_export_leaves_no_file(tmp_path):
    target = tmp_path / "entry.safetensors"
    with pytest.raises(Exception):  # noqa: B017 (safetensors raises its own error type for non-string metadata)
        export_weights(OCSDF(in_features=3, width=16, depth=2), target, metadata={"name": 1})  # metadata must be str
    assert list(Path(tmp_path).iterdir()) == []
