"""The topology engine's bits: loss values and gradients frozen as sha256 constants.

The constants below are the bits of the engine as of 2026-12-02 (commit before issue 15's
overhead work), on the pinned numeric environment (numerics.env). The committed training results
depend on these bits: a refactor of tomclip_lib/topology/ for speed must reproduce them exactly
(torch.equal, not allclose). A DELIBERATE change of bits must regenerate them, and the training
results with them:

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
    generator = torch.Generator().manual_seed(n * 1000 + d)
    student = torch.nn.functional.normalize(torch.randn(n, d, generator=generator, dtype=DTYPES[dtype]), dim=1)
    teacher = torch.nn.functional.normalize(torch.randn(n, d, generator=generator, dtype=DTYPES[dtype]), dim=1)
    student.requires_grad_()
    total, terms = AlignmentLoss(**CONFIGS[config], mode="exact")(student, teacher)
    total.backward()
    digest = hashlib.sha256()
    for tensor in (total.detach(), *(terms[name] for name in sorted(terms)), student.grad):
        digest.update(tensor.contiguous().numpy().tobytes())
    return digest.hexdigest()


CASES = [(config, n, d, dtype) for config in CONFIGS for n, d in SHAPES for dtype in DTYPES]

# The bits of the engine as of 2026-12-02. Regenerate only for a deliberate change (module docstring).
REFERENCE = {
    "MCLIP|64|384|float32": "bb435718a488adafce3a4adea27c6d058aacc2cd9f41b50c19a4895d426e9e0e",
    "MCLIP|64|512|float32": "4770bd11a0989eec1cacd8e49c816d53b50063bbd3bd4d379ebc34485e51d8c4",
    "MCLIP|256|384|float32": "f180491a0caa05b4b6d1bf84a313d85410670ed7569d19109b87bac7c2f87968",
    "MCLIP|256|512|float32": "04be6005f9102dbaa202c919d1cc72e5a8d826b9da5c263c5ccdf7b806e97342",
    "ToMCLIP(dm)|64|384|float32": "a9b0f3ed445c9e1ab1fefd55375e99f327d90a0fae59b8227cf3545ef59fa065",
    "ToMCLIP(dm)|64|512|float32": "025ff1fe6b12b73e801a792ae5466fbf29f92fd0abb5aee2f998a3ef422aea1a",
    "ToMCLIP(dm)|256|384|float32": "43184bf78accdd178c637fe8ba21dd82565077740c743f134198f18047980d39",
    "ToMCLIP(dm)|256|512|float32": "960b48352234d8e938a9caa808a67550f91941fcaa05b52fed630608b2de0848",
    "ToMCLIP(ta)|64|384|float32": "9c32db26aba5ae20c71cfa5b93c27c53abaa48169c6f671b04f9a192424a975d",
    "ToMCLIP(ta)|64|512|float32": "4f1545858ae464e07a7f23091b8daa1ee527f2732c0dee150c7d332cb2b03e8d",
    "ToMCLIP(ta)|256|384|float32": "7bcf07f46e6c8962b72b8312a0b45da24fee66630b2cbf73e5a40a410b4fa4e4",
    "ToMCLIP(ta)|256|512|float32": "3846b68ccbf5fe56848c2812cf29506a47abdd0a240ac8506b1aec4879185f94",
    "ToMCLIP|64|384|float32": "c4a1a148d5e5faa5ca855839255a228f460aa8376f0e45d235a47973c25c9b69",
    "ToMCLIP|64|512|float32": "a16dedf7bbe683cf4d57e1d40d5f37f443b4ce7708eb11e33c7add6c94bbb2a5",
    "ToMCLIP|256|384|float32": "bb56c4e1b9738678703a91bb01f0c8f1df72d923613eb0451610abdbe9d9d75b",
    "ToMCLIP|256|512|float32": "9d03505a086d880a550d2d4642f058eed2641c69a831045af8c1ea46f77511fb",
    "ToMA|64|384|float32": "2f0c15f5a9b24f1982fe00cb2e62fce5bd507a9a53372f0bdef8fc2cc3e5ec54",
    "ToMA|64|512|float32": "ee1a693b4643c8a3203c6a9758c7343da250d8852b447de9118dec0efe3c591e",
    "ToMA|256|384|float32": "e49fc7a830979f9fb2b506bccc1182a6fb025ebcb49f6d8fdf653251a509fc90",
    "ToMA|256|512|float32": "948544664fe442bd7fc764c3044a2ec529b522f4d85bc24ee80161da43805a74",
    "Topo-AE|64|384|float32": "59793b7cb8f73e6422a7cfad9f3ac3ece8c2a8f62e45f5629759d3cf4f2aaec3",
    "Topo-AE|64|512|float32": "323bd058464c17829508e5486bb7b85baa0b5c1e713fdfe41f8410a6f9141075",
    "Topo-AE|256|384|float32": "1ac0ffc7d15e7bc1961dd755a5f3f9791256b3d5e2342e9ee2d50d8141aae83a",
    "Topo-AE|256|512|float32": "c5e1403c337592bd564d4f672c5804403582074fd193131ee93237c6cef2251d",
    "dm+ta|64|384|float32": "2d6d50e1ed19fe6b54444262795067b19c23e9b8f9ec16c6142a0987893b8544",
    "dm+ta|64|512|float32": "4227f4880863d201b9cde118fc44cc1ee3a21208937071462e3b4e6dc49dc820",
    "dm+ta|256|384|float32": "804f5f9f20d630b065da06bd4eade89e25562688cd7a6997298e72fe2cf02b65",
    "dm+ta|256|512|float32": "29345de0c981b279683849bb5223531fb01a3904b86754f14052e067e0ba72e8",
}


@pytest.mark.parametrize("config, n, d, dtype", CASES, ids=[f"{c}-{n}x{d}-{t}" for c, n, d, t in CASES])
def test_engine_bits_unchanged(config, n, d, dtype):
    assert case_hash(config, n, d, dtype) == REFERENCE[f"{config}|{n}|{d}|{dtype}"]


if __name__ == "__main__":
    print("REFERENCE = {")
    for config, n, d, dtype in CASES:
        print(f'    "{config}|{n}|{d}|{dtype}": "{case_hash(config, n, d, dtype)}",')
    print("}")
