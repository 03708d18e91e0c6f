"""Do other CPUs compute our bits? Hashes of the operations a tomclip run rests on, under emulation.

    python scripts/cpu-probe.py              run natively and under qemu-x86_64 as an Intel Haswell
                                             (AVX2, no AVX-512) and an AMD EPYC-Rome; print a table
    python scripts/cpu-probe.py --hashes     the child: print one JSON line of hashes

`make cpus` runs it in the pinned environment of numerics.env (it installs Debian's qemu-user when
root). An operation whose hash differs on a CPU model gives other last bits there, and a
topology-trained run then other results. QEMU's user-mode emulation executes the machine code
that the libraries choose for the CPU model it reports, so vendor-specific paths (MKL's) show.
It is slow: about two minutes per CPU model.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import subprocess
import sys

CPU_MODELS = {"Intel Haswell (AVX2)": "Haswell", "AMD EPYC-Rome (AVX2)": "EPYC-Rome"}
# Every inner size of a matrix product from 16 to 1024: which of them take another path on a CPU.
SCAN_SIZES = range(16, 1025, 16)
SCAN = f"matmul, inner sizes {SCAN_SIZES.start} to {SCAN_SIZES.stop - 1} (step {SCAN_SIZES.step})"


def _scan_cell(scan: dict[str, str], reference: dict[str, str]) -> str:
    """'same', or the inner sizes whose products differ, as ranges of the scan ('208-256')."""
    differing = [int(k) for k in reference if scan[k] != reference[k]]
    if not differing:
        return "same"
    ranges, start = [], differing[0]
    for previous, size in zip(differing, differing[1:] + [None]):
        if size != previous + SCAN_SIZES.step:
            ranges.append(f"{start}" if start == previous else f"{start}-{previous}")
            start = size
    return "DIFFERENT at " + ", ".join(ranges)


def hashes() -> dict[str, str]:
    import torch
    import torch.nn.functional as F

    from tomclip_lib.topology import AlignmentLoss

    def digest(tensor) -> str:
        return hashlib.sha256(tensor.detach().contiguous().numpy().tobytes()).hexdigest()[:8]

    generator = torch.Generator().manual_seed(0)
    x = torch.randn(256, 96, generator=generator)
    square = torch.randn(256, 256, generator=generator)
    weight = torch.randn(128, 96, generator=generator)
    targets = F.normalize(torch.randn(256, 96, generator=generator), dim=1)
    out = {
        "torch kernels": torch.backends.cpu.get_cpu_capability(),
        "matmul, inner size 96": digest(x @ weight.T),
        "matmul, inner size 256": digest(square @ x),
        "GELU, softmax, LayerNorm": digest(F.layer_norm(torch.softmax(F.gelu(x @ weight.T), 1), (128,))),
        "torch.sqrt (MKL vector math)": digest(torch.sqrt(x.abs())),
        "torch.exp (MKL vector math)": digest(torch.exp(x)),
    }
    out[SCAN] = {
        str(k): digest(torch.randn(256, k, generator=generator) @ torch.randn(k, 200, generator=generator))
        for k in SCAN_SIZES
    }
    for name, weights in (
        ("MCLIP", {"pointwise": 1.0}),
        ("ToMCLIP", {"pointwise": 1.0, "distance_matrix": 0.01, "topology_h0": 0.01}),
        ("ToMA", {"pointwise": 1.0, "toma": 0.01}),
        ("Topo-AE", {"pointwise": 1.0, "topo_ae": 0.01}),
    ):
        points = x.clone().requires_grad_()
        total, _ = AlignmentLoss(**weights)(points, targets)
        total.backward()
        out[f"{name} loss"], out[f"{name} gradient"] = digest(total), digest(points.grad)
    return out


def main() -> int:
    from tomclip_lib import numerics

    qemu = shutil.which("qemu-x86_64")
    if qemu is None:
        sys.exit("cpu-probe: qemu-x86_64 is missing; install Debian's qemu-user (make cpus does, as root)")
    child = [sys.executable, "-W", "ignore", __file__, "--hashes"]
    columns = {"this CPU": json.loads(subprocess.run(child, check=True, capture_output=True, text=True).stdout)}
    for label, model in CPU_MODELS.items():
        run = subprocess.run([qemu, "-cpu", model, *child], check=True, capture_output=True, text=True)
        columns[label] = json.loads(run.stdout.strip().splitlines()[-1])
    names = list(columns)
    settings = [
        f"{name}={os.environ.get(name, '(unset)')}" for name in ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "OMP_NUM_THREADS")
    ]
    print(
        f"Measured {datetime.date.today().isoformat()}; this CPU: {numerics.cpu_model()}; numeric environment: "
        + ", ".join(settings)
    )
    print("| operation | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
    for key, own in columns["this CPU"].items():
        if key == SCAN:
            cells, own = [_scan_cell(columns[n][key], own) for n in names[1:]], f"{len(own)} hashes"
        else:
            cells = [
                columns[n][key] if key == "torch kernels" else ("same" if columns[n][key] == own else "DIFFERENT")
                for n in names[1:]
            ]
        print(f"| {key} | {own} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--hashes"]:
        print(json.dumps(hashes()))
    else:
        sys.exit(main())
