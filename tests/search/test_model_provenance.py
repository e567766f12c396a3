"""The shipped model file is the upstream all-MiniLM-L6-v2 weights, rebuilt: checked
against what ``scripts/build_minilm_onnx.py`` produced from those weights (stored in
the reference fixture), so neither PyTorch nor the 90 MB upstream package is needed."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from paperfeed.search import embed as embed_module
from paperfeed.search.minilm import MiniLMEncoder
from paperfeed.settings import load_settings

ROOT = Path(__file__).parent.parent.parent
REFERENCE = json.loads((ROOT / "tests/fixtures/embeddings/minilm-reference.json").read_text())


def build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_minilm_onnx", ROOT / "scripts" / "build_minilm_onnx.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def shipped() -> Path:
    return embed_module.default_model_file(load_settings(data_dir=Path("/nonexistent")))


def test_shipped_int8_weights_are_the_rebuilt_ones_bit_for_bit(shipped: Path) -> None:
    digests = build_script().shipped_digests(shipped)
    assert len(digests) == 38  # 2 embedding tables + 6 layers x 6 linear layers
    assert sorted(digests.values()) == REFERENCE["int8_tensors"]


def test_shipped_file_gives_the_rebuilt_files_vectors(shipped: Path) -> None:
    encoder = MiniLMEncoder(shipped, threads=1)
    for item in REFERENCE["items"]:
        (vector,) = encoder.encode([item["text"]], batch_size=1)
        rebuilt = np.array(item["int8w_vector"], dtype=np.float32)
        fp32 = np.array(item["vector"], dtype=np.float32)
        assert float(vector @ rebuilt) >= 0.9999
        assert float(vector @ fp32) >= 0.999
