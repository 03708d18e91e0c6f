"""What the paper profile costs on GPUs: an estimate from params/<profile>.yaml, before renting them.

    python -m tomclip_lib.cost paper            # the table, as docs/profiles.md shows it
    python -m tomclip_lib.cost paper --write    # rewrite results/cost/paper.md and docs/profiles.md's block

Pure functions of the parameter file, the architectures' published sizes, and, where notebook 01
measured them, the caption lengths of the data card (results/<profile>/data_card.json,
"caption_tokens": {"histogram": {tokens: captions}}, which stages.data.write_data_card measures with
the student's tokenizer); nothing runs on a GPU. No GPU was available to this project, so every
figure is an ESTIMATE from these assumptions (ASSUMPTIONS says each one):

- a training step of xlm-roberta-large costs 3 x its forward FLOPs (backward twice the forward) on
  the batch's tokens, padded as the student pads them: each process pads its rows to their longest
  caption, so the expected maximum of (batch / processes) caption lengths sets the width;
- the GPU is an NVIDIA A100 80 GB SXM: 312 TFLOPS dense bf16 (NVIDIA's A100 datasheet), of which
  MFU (30%) is reached; plus AdamW's update of the fp32 weights (memory-bound, at 70% of the HBM's
  2.0 TB/s), the gradient all-reduce between GPUs (NVLink, 200 GB/s bus bandwidth, not overlapped)
  and the topological terms on the global batch (TOPOLOGY_MS at 256 points, growing as n^2);
  A100s because M-CLIP trained its XLM-R-Large students on them (8 A100s, about 24 h), so the two
  figures can be compared;
- early stopping ends a run between patience + 1 epochs and max_epochs: both bounds are given;
- without a measured histogram, caption lengths in XLM-R tokens follow a log-normal with median 16
  and sigma 0.5, cut at max_length (an assumption: M-CLIP's English captions are BLIP-filtered
  CC3M/CC12M/SBU captions of about 10 words, at about 1.5 pieces per word once translated).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

from . import paths
from .config import load_profile
from .errors import TomclipError
from .io import write_text
from .report import markdown_table

# ----------------------------------------------------------------------------- stated assumptions

GPU_NAME = "NVIDIA A100 80 GB SXM"
PEAK_BF16_TFLOPS = 312.0  # dense, NVIDIA A100 datasheet
MFU = 0.30  # share of the peak reached (assumed)
HBM_TB_S, HBM_EFFICIENCY = 2.0, 0.7  # A100 80 GB HBM2e bandwidth (datasheet), share reached (assumed)
ALLREDUCE_GB_S = 200.0  # NCCL all-reduce bus bandwidth over NVLink (assumed)
TOPOLOGY_MS = 5.0  # the topological terms at 256 points per step (assumed; CPU measurement in results/benchmarks)
ADAMW_BYTES = 28  # per fp32 parameter and step: read weight, grad, 2 moments; write weight, 2 moments
CAPTION_MEDIAN, CAPTION_SIGMA = 16.0, 0.5  # assumed XLM-R tokens per caption, log-normal
XFLICKRCO_IMAGES, XFLICKRCO_LANGUAGES = 2_000, 7  # about 2,000 test images, 7 of the 13 languages (paper.md)
CIFAR100_TEST, CLASSES, LANGUAGES = 10_000, 100, 13

ASSUMPTIONS = [
    f"GPU: {GPU_NAME}, {PEAK_BF16_TFLOPS:g} TFLOPS dense bf16 (NVIDIA's datasheet) at {MFU:.0%} model FLOPs "
    "utilisation (assumed; large-model training reports 40-50%, a 560 M-parameter encoder on 77-token captions "
    "and 32 rows per GPU reaches less); chosen because M-CLIP trained its XLM-R-Large students on 8 A100s "
    "(about 24 h)",
    "a training step = 3 x the forward FLOPs of xlm-roberta-large on the padded batch (each process pads its rows "
    "to their longest caption) + AdamW's update of the fp32 weights "
    f"({ADAMW_BYTES} bytes per parameter at {HBM_EFFICIENCY:.0%} of {HBM_TB_S:g} TB/s) + on several GPUs the "
    f"gradient all-reduce ({ALLREDUCE_GB_S:g} GB/s bus bandwidth, not overlapped) + the topological terms on the "
    f"global batch ({TOPOLOGY_MS:g} ms at 256 points, as n^2; the CPU kernel's measured cost is of that order)",
    "early stopping: each run between patience + 1 and max_epochs epochs (both given); validation every epoch",
    "evaluation, figures and geometry (04, 06-08) encode at most tens of thousands of texts and images: forward "
    "passes only",
]


# ----------------------------------------------------------------------------- architectures


@dataclass(frozen=True)
class Encoder:
    """A transformer encoder's shape (published configurations)."""

    layers: int
    width: int
    ffn: int
    vocab: int
    positions: int

    @property
    def parameters(self) -> int:
        d = self.width
        layer = 4 * d * d + 4 * d + 2 * d * self.ffn + self.ffn + d + 4 * d  # attention, FFN, two LayerNorms
        return (self.vocab + self.positions + 1) * d + 2 * d + self.layers * layer

    def forward_flops_per_token(self, sequence: float) -> float:
        """2 FLOPs per multiply-add: the matrices of every layer, and attention over `sequence` tokens."""
        d = self.width
        return self.layers * (2 * (4 * d * d + 2 * d * self.ffn) + 4 * sequence * d)


XLM_R_LARGE = Encoder(layers=24, width=1024, ffn=4096, vocab=250_002, positions=514)  # 560 M parameters
#: CLIP ViT-B/32's image tower: 7 x 7 patches of 32 px + the class token, 12 layers of width 768.
VIT_B32 = Encoder(layers=12, width=768, ffn=3072, vocab=0, positions=50)
VIT_B32_PATCH_FLOPS = 49 * 2 * (3 * 32 * 32) * 768
CLIP_B32_PARAMETERS = 151_277_313  # OpenAI CLIP ViT-B/32, both towers


def image_flops() -> float:
    return VIT_B32_PATCH_FLOPS + 50 * VIT_B32.forward_flops_per_token(50)


# ----------------------------------------------------------------------------- caption lengths


def caption_histogram(profile: str, max_length: int) -> tuple[dict[int, float], str]:
    """{tokens: share of captions}, and where it comes from: the data card's measurement, else the
    assumed log-normal. Lengths are cut at max_length, as the tokenizer cuts them."""
    card = f"results/{profile}/data_card.json"
    measured = _card_caption_tokens(profile)
    if measured:
        counts: dict[int, float] = {}
        for tokens, n in measured["histogram"].items():
            counts[min(tokens, max_length)] = counts.get(min(tokens, max_length), 0) + n
        total = sum(counts.values())
        tokenizer = f", tokenizer of {measured['tokenizer']}" if measured.get("tokenizer") else ""
        return (
            {k: v / total for k, v in sorted(counts.items())},
            f"measured by notebook 01 ({card}: {total:,.0f} training captions{tokenizer})",
        )
    cdf = lambda x: 0.5 * (1 + math.erf((math.log(x) - math.log(CAPTION_MEDIAN)) / (CAPTION_SIGMA * math.sqrt(2))))  # noqa: E731
    shares = {k: cdf(k + 0.5) - cdf(k - 0.5) for k in range(3, max_length)}
    shares[max_length] = 1 - cdf(max_length - 0.5)
    total = sum(shares.values())
    return (
        {k: v / total for k, v in shares.items()},
        f"assumed (log-normal, median {CAPTION_MEDIAN:g} tokens, sigma {CAPTION_SIGMA:g}), not measured: no "
        f"{card} with caption lengths (notebook 01 of this profile writes them)",
    )


def _card_caption_tokens(profile: str) -> dict | None:
    """The data card's "caption_tokens" with its histogram as {int tokens: float captions}; None where the
    card or its measurement is absent, a TomclipError where it is there but unreadable."""
    path, card = paths.results_dir(profile) / "data_card.json", f"results/{profile}/data_card.json"
    if not path.is_file():
        return None
    remedy = f"run notebook 01 again (make paper PROFILE={profile}), or delete {card}"
    try:
        record = json.loads(path.read_text(encoding="utf-8")).get("caption_tokens")
    except (OSError, ValueError, AttributeError) as error:
        raise TomclipError(f"{card} is not a readable data card ({error}); {remedy}.") from None
    if not record:
        return None
    try:
        histogram = {int(tokens): float(n) for tokens, n in record["histogram"].items()}
    except (AttributeError, KeyError, TypeError, ValueError):
        histogram = {}
    if not histogram or min(histogram) < 1 or min(histogram.values()) < 0 or sum(histogram.values()) <= 0:
        raise TomclipError(
            f"{card}: caption_tokens.histogram must map token counts (>= 1) to caption counts (>= 0, not all 0), "
            f"got {str(record)[:200]}; {remedy}."
        )
    return {**record, "histogram": histogram}


def mean_length(histogram: dict[int, float]) -> float:
    return sum(k * p for k, p in histogram.items())


def expected_max(histogram: dict[int, float], rows: int) -> float:
    """The expected longest caption among `rows` drawn independently: the padded width of a batch."""
    total, below = 0.0, 0.0
    for k in sorted(histogram):
        previous = below
        below += histogram[k]
        total += k * (min(below, 1.0) ** rows - min(previous, 1.0) ** rows)
    return total


# ----------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class Training:
    """A set of runs that train alike: how many, on how many rows, how many processes."""

    name: str
    runs: int
    rows: int
    batch: int
    processes: int
    min_epochs: int
    max_epochs: int
    validation_rows: int


def step_seconds(batch: int, processes: int, histogram: dict[int, float]) -> float:
    """One optimiser step of xlm-roberta-large on `batch` captions over `processes` GPUs (module docstring)."""
    rows = math.ceil(batch / processes)
    width = expected_max(histogram, rows)
    flops = 3 * rows * width * XLM_R_LARGE.forward_flops_per_token(width)
    compute = flops / (PEAK_BF16_TFLOPS * 1e12 * MFU)
    optimizer = ADAMW_BYTES * XLM_R_LARGE.parameters / (HBM_TB_S * 1e12 * HBM_EFFICIENCY)
    allreduce = (
        0.0
        if processes == 1
        else (2 * (processes - 1) / processes * 4 * XLM_R_LARGE.parameters / (ALLREDUCE_GB_S * 1e9))
    )
    return compute + optimizer + allreduce + TOPOLOGY_MS / 1000 * (batch / 256) ** 2


def forward_seconds(texts: int, histogram: dict[int, float], batch: int = 256) -> float:
    width = expected_max(histogram, batch)
    return texts * width * XLM_R_LARGE.forward_flops_per_token(width) / (PEAK_BF16_TFLOPS * 1e12 * MFU)


def training_hours(training: Training, histogram: dict[int, float], processes: int) -> tuple[float, float]:
    """(fewest, most) wall-clock hours of all its runs on `processes` GPUs."""
    steps = math.ceil(training.rows / training.batch)
    epoch = steps * step_seconds(training.batch, processes, histogram)
    epoch += forward_seconds(training.validation_rows, histogram) / processes
    return tuple(training.runs * epochs * epoch / 3600 for epochs in (training.min_epochs, training.max_epochs))


def trainings(profile: str) -> list[Training]:
    """Notebook 03's grid and notebook 05's new low-resource runs, from the profile's parameters."""
    params = load_profile(profile)
    data, train, ablations = params["01_data"]["paper_data"], params["03_train"], params.get("05_ablations", {})
    validation, low_rows = data["validation_rows"], data["low_resource_rows"]
    full_rows = data["rows"] - validation  # the reference's full split: rows 5,000-2,000,000
    variants, processes = len(train["variants"]), int(train.get("processes", 1))
    bounds = dict(min_epochs=train["patience"] + 1, max_epochs=train["max_epochs"], validation_rows=validation)
    result = [
        Training("03 full", variants * len(train["seeds_full"]), full_rows, train["batch_size"], processes, **bounds),
        Training(
            "03 low-resource", variants * len(train["seeds_low"]), low_rows, train["batch_size"], processes, **bounds
        ),
    ]
    # Notebook 05 (one process): MCLIP and ToMCLIP at each batch size; s off / 1.0 (0.5 is 03's); L_ta "exact"
    # (03 trains "reference"); ToMCLIP with the graph-H1 term. Settings equal to a run of 03 are reused.
    seeds = len(ablations.get("seeds", [0, 1, 2]))
    ab = dict(
        min_epochs=train["patience"] + 1,
        max_epochs=ablations.get("max_epochs", train["max_epochs"]),
        validation_rows=validation,
    )
    for size in ablations.get("batch_sizes", []):
        if size != train["batch_size"]:
            result.append(Training(f"05 batch {size}", 2 * seeds, low_rows, size, 1, **ab))
    others = 2 + (train.get("mode") != "exact") + 1  # two scales, the other L_ta mode, H1 on
    result.append(Training("05 s, mode, H1", others * seeds, low_rows, train["batch_size"], 1, **ab))
    return result


def _hours(low: float, high: float) -> str:
    return f"{low:,.1f}-{high:,.1f}" if high >= 0.05 else "< 0.1"


def notebook_rows(profile: str) -> list[dict]:
    """One row per notebook: what runs on the GPU, GPU-hours on 1 GPU and on 8 (fewest-most)."""
    histogram, _ = caption_histogram(profile, 77)
    runs = {t.name: t for t in trainings(profile)}
    teacher_s = (CIFAR100_TEST + XFLICKRCO_IMAGES) * image_flops() / (PEAK_BF16_TFLOPS * 1e12 * MFU)
    n03 = runs["03 full"].runs + runs["03 low-resource"].runs
    texts04 = CLASSES * LANGUAGES + XFLICKRCO_IMAGES * XFLICKRCO_LANGUAGES
    new05 = [t for name, t in runs.items() if name.startswith("05")]
    rows = []

    def add(notebook, what, hours_1, hours_8):
        rows.append(
            {
                "notebook": notebook,
                "what runs on the GPU": what,
                "GPU-hours, 1 GPU": _hours(*hours_1),
                "wall-clock hours, 8 GPUs": _hours(*hours_8),
            }
        )

    add("01_data", "none (reads the downloads; CPU and disk)", (0, 0), (0, 0))
    add(
        "02_teacher",
        f"CLIP ViT-B/32 encodes {CIFAR100_TEST:,} CIFAR-100 and ~{XFLICKRCO_IMAGES:,} xFlickr&CO images "
        f"({image_flops() / 1e9:.1f} GFLOP each); decoding the JPEGs on the CPU takes longer",
        (teacher_s / 3600,) * 2,
        (teacher_s / 3600,) * 2,
    )
    for name in ("03 full", "03 low-resource"):
        t = runs[name]
        one, eight = training_hours(t, histogram, 1), training_hours(t, histogram, t.processes)
        steps = math.ceil(t.rows / t.batch)
        add(
            "03_train" if name == "03 full" else "",
            f"{t.runs} runs x {t.min_epochs}-{t.max_epochs} epochs x {steps:,} steps of batch {t.batch} "
            f"({name.split(' ', 1)[1]}, {t.rows:,} pairs)",
            one,
            eight,
        )
    eval_s = (n03 + 1) * forward_seconds(texts04, histogram)
    add(
        "04_evaluate",
        f"{n03} students encode {texts04:,} prompts and captions",
        (eval_s / 3600,) * 2,
        (eval_s / 3600,) * 2,
    )
    low = [training_hours(t, histogram, 1) for t in new05]
    add(
        "05_ablations",
        f"{sum(t.runs for t in new05)} new low-resource runs (batch sizes "
        f"{', '.join(str(t.batch) for t in new05 if t.name.startswith('05 batch'))}; s, L_ta mode, H1), one process "
        f"each",
        (sum(l for l, _ in low), sum(h for _, h in low)),
        (sum(l for l, _ in low), sum(h for _, h in low)),
    )
    add(
        "06-08",
        "students and teacher encode emoji names and xFlickr&CO (forward passes); UMAP and clusters on the CPU",
        (0, 0),
        (0, 0),
    )
    return rows


def totals(profile: str) -> tuple[tuple[float, float], tuple[float, float]]:
    """(fewest, most) GPU-hours on 1 GPU, and wall-clock hours with notebook 03 on 8 GPUs."""
    histogram, _ = caption_histogram(profile, 77)
    one, eight = [0.0, 0.0], [0.0, 0.0]
    for t in trainings(profile):
        a, b = training_hours(t, histogram, 1), training_hours(t, histogram, t.processes)
        for i in (0, 1):
            one[i] += a[i]
            eight[i] += b[i]
    return tuple(one), tuple(eight)


def disk_rows(profile: str) -> list[dict]:
    """What the downloads and the artifacts need on disk (GB)."""
    data = load_profile(profile)["01_data"]["paper_data"]
    weights = 4 * XLM_R_LARGE.parameters / 1e9
    n_runs = sum(t.runs for t in trainings(profile))
    rows = [
        ("M-CLIP translations (parquet)", 1.3, "the file's size on the Hub (tomclip_lib/data/PAPER_SOURCES.md)"),
        ("M-CLIP embeddings, config Vit-B-32", 7_000_000 * 512 * 4 / 1e9, "7 M rows x 512 float32 (computed)"),
        ("COCO val2014 images", 6.2, "the host's listing (not checked here)"),
        ("Flickr30k images (Kaggle archive)", 8.5, "the host's listing, about (not checked here)"),
        ("CIFAR-100 (python)", 0.16, "the host's listing"),
        ("xFlickr&CO annotations (IGLUE, shallow clone)", 1.0, "at most (assumed)"),
        (
            "weights: xlm-roberta-large, CLIP ViT-B/32",
            weights + 4 * CLIP_B32_PARAMETERS / 1e9,
            "parameters x 4 bytes (computed)",
        ),
        ("artifacts: targets of the rows read", data["rows"] * 512 * 4 / 1e9, "rows x 512 float32 (computed)"),
        (f"artifacts: best.pt of {n_runs} runs (03 and 05)", n_runs * weights, "fp32 weights of each run (computed)"),
        (
            "artifacts: the checkpoint of the run in progress",
            4 * weights,
            "weights, AdamW's two moments, the best weights (computed)",
        ),
    ]
    return [{"what": what, "GB": f"{gb:,.1f}", "from": source} for what, gb, source in rows]


def markdown(profile: str = "paper") -> str:
    """The generated section of docs/profiles.md (results/cost/<profile>.md)."""
    import pandas as pd

    histogram, source = caption_histogram(profile, 77)
    (one_low, one_high), (eight_low, eight_high) = totals(profile)
    params = load_profile(profile)["03_train"]
    lines = [
        f"ESTIMATES, not measurements: no GPU was available to this project. Written by `python -m tomclip_lib.cost "
        f"{profile} --write` from `params/{profile}.yaml`; caption lengths {source}: mean "
        f"{mean_length(histogram):.1f} tokens, a batch of {params['batch_size']} padded to "
        f"{expected_max(histogram, params['batch_size']):.0f} on one GPU and to "
        f"{expected_max(histogram, math.ceil(params['batch_size'] / params.get('processes', 1))):.0f} per GPU on "
        f"{params.get('processes', 1)}. One training step of xlm-roberta-large at batch {params['batch_size']}: "
        f"{step_seconds(params['batch_size'], 1, histogram) * 1000:.0f} ms on one GPU, "
        f"{step_seconds(params['batch_size'], 8, histogram) * 1000:.0f} ms on eight. Training in all (notebooks 03 "
        f"and 05, early stopping at its earliest and at max_epochs): {one_low:,.0f}-{one_high:,.0f} GPU-hours on one "
        f"GPU; with notebook 03 on eight GPUs, {eight_low:,.0f}-{eight_high:,.0f} hours of wall-clock time.",
        "",
        markdown_table(pd.DataFrame(notebook_rows(profile))),
        "Disk:",
        "",
        markdown_table(pd.DataFrame(disk_rows(profile))),
        "Assumptions (`tomclip_lib/cost.py`):",
        "",
        *[f"- {a}" for a in ASSUMPTIONS],
    ]
    return "\n".join(lines) + "\n"


def notebook_line(profile: str, notebook: str) -> str | None:
    """One line for the notebook runner before a notebook of a profile with the paper's data, or None."""
    try:
        params = load_profile(profile)
    except Exception:  # noqa: BLE001 - the runner reports the profile's own errors
        return None
    if not params.get("01_data", {}).get("paper_data"):
        return None
    rows = {row["notebook"]: row for row in notebook_rows(profile) if row["notebook"]}
    row = rows.get(notebook) or next((r for k, r in rows.items() if k.startswith(notebook[:2])), None)
    if row is None or notebook.startswith(("06", "07", "08")):
        row = rows.get("06-08")
    return (
        f"estimated GPU cost ({GPU_NAME}, docs/profiles.md#what-it-costs): {row['what runs on the GPU']}; "
        f"{row['GPU-hours, 1 GPU']} GPU-hours on one GPU, {row['wall-clock hours, 8 GPUs']} h on eight (estimates)"
    )


def write(profile: str = "paper") -> Path:
    """results/cost/<profile>.md, then docs/profiles.md's include block refreshed from it."""
    path = write_text(paths.REPO_ROOT / "results" / "cost" / f"{profile}.md", markdown(profile))
    docs = paths.REPO_ROOT / "docs" / "profiles.md"
    text = docs.read_text(encoding="utf-8")
    marker = f"<!-- include: results/cost/{profile}.md -->\n"
    if marker in text:
        start = text.index(marker) + len(marker)
        end = text.index("<!-- end include -->", start)
        write_text(docs, text[:start] + path.read_text(encoding="utf-8") + text[end:])
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The paper profile's GPU cost, estimated (tomclip_lib/cost.py).")
    parser.add_argument("profile", nargs="?", default="paper")
    parser.add_argument("--write", action="store_true", help="rewrite results/cost/PROFILE.md and docs/profiles.md")
    args = parser.parse_args(argv)
    if args.write:
        print(f"wrote {write(args.profile)}")
    else:
        print(markdown(args.profile))
    return 0


if __name__ == "__main__":
    sys.exit(main())
