"""The pinned numeric environment: numerics.env is read as make reads it, and deviations are named."""

import os

import torch

from tomclip_lib import numerics


def test_numerics_env_parses_like_make(tmp_path):
    env = tmp_path / "numerics.env"
    env.write_text("# comment\nMKL_CBWR=AVX2,STRICT\n\nOMP_NUM_THREADS=2\n")
    assert numerics.pinned(env) == {"MKL_CBWR": "AVX2,STRICT", "OMP_NUM_THREADS": "2"}
    assert numerics.pinned(tmp_path / "absent.env") == {}


def test_the_repository_pins_kernels_and_threads():
    settings = numerics.pinned()
    assert settings["ATEN_CPU_CAPABILITY"] == "avx2" and settings["MKL_CBWR"].startswith("AVX2")
    assert int(settings["OMP_NUM_THREADS"]) >= 1


def test_a_deviation_is_named(monkeypatch):
    monkeypatch.setenv("MKL_CBWR", "AUTO")
    problems = numerics.differences()
    assert any(p.startswith("MKL_CBWR=AUTO") for p in problems)
    assert "NOT the pinned one" in numerics.describe()


def test_make_runs_the_tests_pinned():
    """`make test` exports numerics.env: torch here runs the pinned kernels and thread count."""
    if os.environ.get("MKL_CBWR") != numerics.pinned()["MKL_CBWR"]:
        import pytest

        pytest.skip("not run through make")
    assert numerics.differences() == [], numerics.differences()
    assert torch.get_num_threads() == int(numerics.pinned()["OMP_NUM_THREADS"])


def test_features_computed_under_other_kernels_go_to_another_store(monkeypatch):
    signature = numerics.signature()
    monkeypatch.setenv("MKL_CBWR", "COMPATIBLE")
    assert numerics.signature() != signature
