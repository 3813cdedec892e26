"""LoRA adapters that should not load: damaged or nonsense configs and weights, special
files, oversized files. Each is refused in one line that names the adapter and what is
wrong, before any weight of the base model changes; a sound adapter still loads."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import save_file

from minichat.errors import ModelLoadError
from minichat.loading import adapter as adapters
from minichat.loading.adapter import read_adapter
from tests.test_cli import assert_one_error_line, minichat

LAYER = "model.layers.5.self_attn.q_proj"  # tiny-chitchat: 192 wide, 6 blocks
KEY = "base_model.model." + LAYER + ".lora_{}.weight"


SOUND_CONFIG = {"peft_type": "LORA", "r": 2, "lora_alpha": 4}


def make_adapter(
    folder: Path,
    config: Any = SOUND_CONFIG,
    tensors: dict[str, torch.Tensor] | None = None,
    info: Any = None,
) -> Path:
    """A rank-2 adapter of tiny-chitchat's last query projection, or the parts given."""
    folder.mkdir(exist_ok=True)
    (folder / adapters.CONFIG_FILE).write_text(json.dumps(config))
    if tensors is None:
        tensors = {
            KEY.format("A"): torch.full((2, 192), 0.01),
            KEY.format("B"): torch.full((192, 2), 0.01),
        }
    save_file(tensors, str(folder / adapters.WEIGHTS_FILE))
    if info is not None:
        (folder / adapters.INFO_FILE).write_text(json.dumps(info))
    return folder


def test_a_sound_adapter_loads(tmp_path: Path) -> None:
    adapter = read_adapter(make_adapter(tmp_path / "ad", info={"base": "tiny-chitchat"}))
    assert (adapter.rank, adapter.scale, adapter.base) == (2, 2.0, "tiny-chitchat")
    assert list(adapter.pairs) == [LAYER + ".weight"] and adapter.blocks() == ("blocks.5.",)
    torch.testing.assert_close(adapter.delta(LAYER + ".weight"), torch.full((192, 192), 4e-4))


A, B = KEY.format("A"), KEY.format("B")
SOUND = {A: torch.full((2, 192), 0.01), B: torch.full((192, 2), 0.01)}


def with_tensor(key: str, tensor: torch.Tensor) -> dict[str, torch.Tensor]:
    return {**SOUND, key: tensor}


BAD_CONFIGS = [
    ([1, 2], "adapter_config.json is not a JSON object"),
    (None, "adapter_config.json is not a JSON object"),  # JSON null
    ("r", "adapter_config.json is not a JSON object"),
    ({"peft_type": "LORA"}, "adapter_config.json has no rank (r)"),
    ({"r": 0}, "r must be a whole number of 1 or more, not 0"),
    ({"r": -2}, "r must be a whole number of 1 or more, not -2"),
    ({"r": 2.5}, "r must be a whole number of 1 or more, not 2.5"),
    ({"r": "2"}, "r must be a whole number of 1 or more, not '2'"),
    ({"r": True}, "r must be a whole number of 1 or more, not True"),
    ({"r": 2, "lora_alpha": float("nan")}, "lora_alpha must be a number above 0, not nan"),
    ({"r": 2, "lora_alpha": float("inf")}, "lora_alpha must be a number above 0, not inf"),
    ({"r": 2, "lora_alpha": 0}, "lora_alpha must be a number above 0, not 0"),
    ({"r": 2, "lora_alpha": -4}, "lora_alpha must be a number above 0, not -4"),
    ({"r": 2, "lora_alpha": "4"}, "lora_alpha must be a number above 0, not '4'"),
    ({"r": 2, "lora_alpha": 1e30}, "would change " + LAYER + ".weight by up to 1e+26"),
    ({"r": 2, "use_rslora": "no"}, "use_rslora must be true or false, not 'no'"),
    ({"r": 2, "peft_type": ["LORA"]}, "it is a ['LORA'] adapter; minichat merges LoRA"),
    ({"r": 2, "peft_type": "\x1b[2JIA3"}, "is a '\\x1b[2JIA3' adapter"),
]


@pytest.mark.parametrize(("config", "words"), BAD_CONFIGS)
def test_a_bad_config_is_refused_naming_the_adapter(
    config: Any, words: str, tmp_path: Path
) -> None:
    folder = make_adapter(tmp_path / "ad", config=config)
    with pytest.raises(ModelLoadError) as error:
        read_adapter(folder)
    message = str(error.value)
    assert f"the adapter {folder}" in message and words in message, message
    assert "\n" not in message and "\x1b" not in message


BAD_WEIGHTS = [
    (with_tensor(A, torch.full((2, 192), float("nan"))), f"{A} holds NaN or infinite values"),
    (with_tensor(B, torch.full((192, 2), float("inf"))), f"{B} holds NaN or infinite values"),
    (with_tensor(B, torch.full((192, 3), 0.01)), "rank 2 in lora_A and 3 in lora_B"),
    (
        {A: torch.full((3, 192), 0.01), B: torch.full((192, 3), 0.01)},
        "rank 3 in lora_A and 3 in lora_B, but adapter_config.json says r = 2",
    ),
    (with_tensor(A, torch.full((384,), 0.01)), f"{A} has 1 dimension; a LoRA matrix has 2"),
    (with_tensor(A, torch.ones((2, 192), dtype=torch.int32)), f"{A} is int32"),
    (with_tensor(A, torch.ones((2, 192), dtype=torch.bool)), f"{A} is bool"),
    (with_tensor(A, torch.full((2, 192), 1e18)), "would change " + LAYER + ".weight by up to"),
    (
        {**SOUND, A.replace(".weight", ".default.weight"): SOUND[A].clone()},
        "holds two lora_A matrices for " + LAYER + ".weight",
    ),
    ({A: SOUND[A]}, "is incomplete"),
    ({}, "is incomplete"),
    ({"base_model.model.lm_head.weight": torch.ones(2, 2)}, "which is not a LoRA matrix"),
]


@pytest.mark.parametrize(("tensors", "words"), BAD_WEIGHTS)
def test_bad_weights_are_refused_naming_the_adapter(
    tensors: dict[str, torch.Tensor], words: str, tmp_path: Path
) -> None:
    folder = make_adapter(tmp_path / "ad", tensors=tensors)
    with pytest.raises(ModelLoadError) as error:
        read_adapter(folder)
    message = str(error.value)
    assert f"the adapter {folder}" in message and words in message, message


@pytest.mark.parametrize("size", [0, 7, 100])
def test_a_truncated_weights_file_is_refused(size: int, tmp_path: Path) -> None:
    folder = make_adapter(tmp_path / "ad")
    weights = folder / adapters.WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:size])
    with pytest.raises(
        ModelLoadError, match=f"the adapter {folder}: {adapters.WEIGHTS_FILE} is damaged"
    ):
        read_adapter(folder)


@pytest.mark.parametrize(
    ("info", "words"),
    [
        ([1], "minichat.json is not a JSON object"),
        ({"base": ["smollm2"]}, 'minichat.json: "base" must be a model\'s name'),
    ],
)
def test_a_bad_minichat_json_is_refused(info: Any, words: str, tmp_path: Path) -> None:
    folder = make_adapter(tmp_path / "ad", info=info)
    with pytest.raises(ModelLoadError, match=f"the adapter {folder}") as error:
        read_adapter(folder)
    assert words in str(error.value)


@pytest.mark.parametrize("name", [adapters.CONFIG_FILE, adapters.WEIGHTS_FILE, adapters.INFO_FILE])
@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_an_adapter_file_that_is_not_a_regular_file_is_refused(
    name: str, kind: str, tmp_path: Path
) -> None:
    folder = make_adapter(tmp_path / "ad", info={"base": "tiny-chitchat"})
    (folder / name).unlink()
    if kind == "fifo":
        os.mkfifo(folder / name)
        words = f"{name} is a pipe (FIFO), not a regular file"
    else:
        (folder / name).symlink_to("/dev/zero")
        words = f"{name} is a device, not a regular file"
    with pytest.raises(ModelLoadError, match=f"the adapter {folder}") as error:
        read_adapter(folder)
    assert words in str(error.value)


@pytest.mark.parametrize("name", [adapters.CONFIG_FILE, adapters.WEIGHTS_FILE, adapters.INFO_FILE])
def test_an_adapter_file_over_its_cap_is_refused(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (adapters.CONFIG_LIMIT, adapters.WEIGHTS_LIMIT) == (2**20, 2**30)
    folder = make_adapter(tmp_path / "ad", info={"base": "tiny-chitchat"})
    monkeypatch.setattr(adapters, "WEIGHTS_LIMIT", 2**20)  # not a GiB written per test
    with (folder / name).open("ab") as file:  # one byte over 1 MiB
        file.write(b" " * (2**20 + 1 - (folder / name).stat().st_size))
    with pytest.raises(ModelLoadError, match=f"the adapter {folder}: {name} is over 1 MiB"):
        read_adapter(folder)


def test_a_nan_adapter_is_refused_in_one_line_not_merged(tmp_path: Path) -> None:
    """It used to load, and the model then answered nothing at all."""
    folder = make_adapter(
        tmp_path / "ad", tensors=with_tensor(A, torch.full((2, 192), float("nan")))
    )
    result = minichat("ask", "-m", "tiny-chitchat", "--adapter", str(folder), "-n", "4", "hi")
    assert_one_error_line(result, f"the adapter {folder}: {A} holds NaN or infinite values")


def test_a_list_as_config_is_refused_in_one_line(tmp_path: Path) -> None:
    folder = make_adapter(tmp_path / "ad", config=[{"r": 2}])
    result = minichat("ask", "-m", "tiny-chitchat", "--adapter", str(folder), "-n", "4", "hi")
    assert_one_error_line(result, f"the adapter {folder}: adapter_config.json is not a JSON object")
