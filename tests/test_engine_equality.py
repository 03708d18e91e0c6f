"""The topology engine's numbers: equal to the torch engine's within float tolerance, and frozen bits.

Two checks. (1) Every training variant's loss and gradient from the engine a CPU training step
takes (the fused kernel for the MST-based terms, fused.py) against the torch engine that computed
them before issue 15 (engine="torch", distances.py), the latter in float64: within float32
rounding. (2) The bits, frozen as sha256 constants, as of 2026-12-03 (issue 15's fused kernel),
on the pinned numeric environment (numerics.env). The committed training results depend on these
bits: a refactor of tomclip_lib/topology/ for speed must reproduce them exactly (torch.equal, not
allclose). A DELIBERATE change of bits must regenerate them, and the training results with them:

    set -a && . ./numerics.env && set +a
    .venv/bin/python tests/test_engine_equality.py      # prints the new REFERENCE dict

Each case: a seeded student batch (leaf with gradient, as the head's output) and teacher batch
(no gradient), both L2-normalised Gaussian, AlignmentLoss with one of train.VARIANTS' weight sets
(topological weights 0.01, mode "exact"), plus the benchmark's L_dm + L_ta pair; the hash covers the
total, every term's value and the student's gradient, in that order.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tomclip_lib.topology import AlignmentLoss  # noqa: E402
from tomclip_lib.train import VARIANTS  # noqa: E402

CONFIGS = {**VARIANTS, "dm+ta": {"pointwise": 0.0, "distance_matrix": 0.01, "topology_h0": 0.01}}
SHAPES = [(64, 384), (64, 512), (256, 384), (256, 512)]
DTYPES = {"float32": torch.float32}


def case_hash(config: str, n: int, d: int, dtype: str) -> str:
    student, teacher = (x.to(DTYPES[dtype]) for x in seeded_pair(n, d))
    student.requires_grad_()
    total, terms = AlignmentLoss(**CONFIGS[config], mode="exact")(student, teacher)
    total.backward()
    digest = hashlib.sha256()
    for tensor in (total.detach(), *(terms[name] for name in sorted(terms)), student.grad):
        digest.update(tensor.contiguous().numpy().tobytes())
    return digest.hexdigest()


CASES = [(config, n, d, dtype) for config in CONFIGS for n, d in SHAPES for dtype in DTYPES]


def seeded_pair(n: int, d: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(n * 1000 + d)
    return tuple(torch.nn.functional.normalize(torch.randn(n, d, generator=generator), dim=1) for _ in range(2))


@pytest.mark.parametrize("config", [c for c in CONFIGS if c != "MCLIP"])
@pytest.mark.parametrize("n, d", SHAPES)
def test_the_training_engine_agrees_with_the_torch_engine(config, n, d):
    """Loss, terms and gradient in float32 against the torch engine in float64 on the same inputs.
    Tolerances: relative 1e-5 on values and on the gradient's norm (measured: ~1e-7; the torch
    engine in float32 is itself ~1e-4 off in the L_ta gradient), plus 1e-8 absolute on the latter:
    at 64 x 512 the dm+ta pair keeps one edge per batch, every normalised length is 1 and the
    true gradient is 0 (5e-11 of rounding in float64, 2e-10 in float32)."""
    student, teacher = seeded_pair(n, d)
    results = []
    for engine, dtype in (("auto", torch.float32), ("torch", torch.float64)):
        points = student.detach().to(dtype).requires_grad_()
        total, terms = AlignmentLoss(**CONFIGS[config], mode="exact", engine=engine)(points, teacher.to(dtype))
        total.backward()
        results.append((total.detach().double(), {k: v.double() for k, v in terms.items()}, points.grad.double()))
    (total, terms, grad), (true_total, true_terms, true_grad) = results
    assert torch.allclose(total, true_total, rtol=1e-5, atol=0)
    for name, value in true_terms.items():
        assert torch.allclose(terms[name], value, rtol=1e-5, atol=1e-12), name
    assert float((grad - true_grad).norm()) < 1e-5 * float(true_grad.norm()) + 1e-8


# The bits of the engine as of 2026-12-03. Regenerate only for a deliberate change (module docstring).
REFERENCE = {
    "MCLIP|64|384|float32": "bb435718a488adafce3a4adea27c6d058aacc2cd9f41b50c19a4895d426e9e0e",
    "MCLIP|64|512|float32": "4770bd11a0989eec1cacd8e49c816d53b50063bbd3bd4d379ebc34485e51d8c4",
    "MCLIP|256|384|float32": "f180491a0caa05b4b6d1bf84a313d85410670ed7569d19109b87bac7c2f87968",
    "MCLIP|256|512|float32": "04be6005f9102dbaa202c919d1cc72e5a8d826b9da5c263c5ccdf7b806e97342",
    "ToMCLIP(dm)|64|384|float32": "a0d272f3918da0358cbed6265a80215a0c55f19c7acbda9c6bcd211e58a03887",
    "ToMCLIP(dm)|64|512|float32": "6d341a60080aa64be52c314d0e0371a7acbf07823f2e133dfa5e97a2446e2c45",
    "ToMCLIP(dm)|256|384|float32": "e259a72c57c872753f53aaeb3711843097a5e9c28b9a15cdc98ba47fac41385f",
    "ToMCLIP(dm)|256|512|float32": "a2b434ec7ef3e97b7b0ff6685a3653eb1533e8447347b61421f53295e24456bd",
    "ToMCLIP(ta)|64|384|float32": "ebb3e6b263fd6ad82c3199f191cbdae064c8ffc34a4badd3aefa8137077a1f87",
    "ToMCLIP(ta)|64|512|float32": "44cd6b701e7ba78a7e7e5e08f404ba22ed6b76f5792001482982ddf1f976892a",
    "ToMCLIP(ta)|256|384|float32": "ae7cab27917d2743b0a2b8f8abcc4c9481066decbd6292e2ec7ef086de441530",
    "ToMCLIP(ta)|256|512|float32": "724dd6d1eec10e433c3d7522daf108d647d16e8cb212603fd81309cc7d87b849",
    "ToMCLIP|64|384|float32": "95d80db680de7205146a73ff87660f287ceac072468f19215f4310339e9eec7a",
    "ToMCLIP|64|512|float32": "0945ee3c362bfdc075a554fb602b07aec398f5e6bab2e9ad400c9e0ea44cba9d",
    "ToMCLIP|256|384|float32": "5cf137c466f543902a11b26f5acede1d0ed1348f6c27043368f73896abc648af",
    "ToMCLIP|256|512|float32": "9bf350b63b770f15c7cbe242bd8ff035bfe58c02c4217081a36605c1c774dcb1",
    "ToMA|64|384|float32": "c5f25780214d164f4e787e9da9b293561582bd1cb809beff04243e182121846a",
    "ToMA|64|512|float32": "0246b23c69a58618a6c5e94eca1e6fab41510460176f5e2804b04dcf311501bf",
    "ToMA|256|384|float32": "c93eccb7100d2465610676fc4a3db186d78b3f5b216bb7253742d18da787dcca",
    "ToMA|256|512|float32": "37e09c5056f0068ba0861029bc9dbeb123cdb29f63780862312d6d768c70e2b8",
    "Topo-AE|64|384|float32": "d5099ecd776733df95ce90f7e9c2b8f802d8ad6f374dd1eb904774cf2e1fa3dd",
    "Topo-AE|64|512|float32": "f45133a0cfe0d6786a238078ca2caaf3ac29d0014b04a584827bd12e1a1ed134",
    "Topo-AE|256|384|float32": "83e7c0e3ac4259b3825043dded578117cabbc7ec15b05570c1833d22ce14e1ba",
    "Topo-AE|256|512|float32": "eaf85cd3209989b79ad15620e45c9dddfc22745bb064b9884067ca6386054b27",
    "dm+ta|64|384|float32": "28caa0a09e5dce742ba695b8f645347265ec48ecc8c490b46f740aea0dea9b23",
    "dm+ta|64|512|float32": "a58663f0bc0728724eee5cbe4efb33fb8ab7adacf0dece7a39b99216e7b89aea",
    "dm+ta|256|384|float32": "d6eb7c5985588c19e80fd1a1007b3337e26237cfd42bd8bcb6958971c8c8dcda",
    "dm+ta|256|512|float32": "d20c5643fb2398f346b76a4cf2866ae77e39f6cd5ec33edaec2a6945193dbfb1",
}


@pytest.mark.parametrize("config, n, d, dtype", CASES, ids=[f"{c}-{n}x{d}-{t}" for c, n, d, t in CASES])
def test_engine_bits_unchanged(config, n, d, dtype):
    assert case_hash(config, n, d, dtype) == REFERENCE[f"{config}|{n}|{d}|{dtype}"]


if __name__ == "__main__":
    print("REFERENCE = {")
    for config, n, d, dtype in CASES:
        print(f'    "{config}|{n}|{d}|{dtype}": "{case_hash(config, n, d, dtype)}",')
    print("}")
