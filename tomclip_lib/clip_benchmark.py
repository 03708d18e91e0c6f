"""Notebook 04's evaluation tables as CLIP_benchmark results: a pure function of results/<profile>/.

    python -m tomclip_lib.clip_benchmark PROFILE

`write_benchmark_results(profile)` writes each evaluation of notebook 04 (its long tables) as one
JSON file per (run, task, language) in CLIP_benchmark's shape, in results/<profile>/clip_benchmark/.
It reads only those tables and the profile's params file, so it can be rerun at any time.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import pandas as pd

from . import paths
from .config import load_profile
from .errors import TomclipError
from .io import atomic_path

#: Notebook 04's long tables, and the CLIP_benchmark task each one is.
TABLES = {"zero_shot_long": "zeroshot_classification", "retrieval_long": "zeroshot_retrieval"}
FOLDER = "clip_benchmark"


def slug(text: str) -> str:
    """A name for a file: runs of characters other than letters, digits, '.' and '_' become '-', lower case."""
    return re.sub(r"[^A-Za-z0-9._]+", "-", str(text)).strip("-").lower()


def _benchmark_datasets(profile: str) -> dict[str, str]:
    """The datasets of the two tasks, by the profile's data: the paper's, or the embedded stand-ins."""
    paper = bool(load_profile(profile).get("01_data", {}).get("paper_data"))
    return (
        {"zeroshot_classification": "cifar100", "zeroshot_retrieval": "xflickrco"}
        if paper
        else {"zeroshot_classification": "fashion-mnist", "zeroshot_retrieval": "xemoji"}
    )


def _metric_name(task: str, metric: str) -> str:
    """Our metric names in CLIP_benchmark's: acc1, acc5; image_retrieval_recall@k (text -> image),
    text_retrieval_recall@k (image -> text)."""
    if task == "zeroshot_classification":
        return re.sub(r"^top(\d+)$", r"acc\1", metric)
    direction, _, k = metric.partition(" R@")
    return {"text_to_image": "image_retrieval", "image_to_text": "text_retrieval"}.get(
        direction, direction
    ) + f"_recall@{k}"


def benchmark_records(profile: str) -> list[dict]:
    """Notebook 04's long tables as CLIP_benchmark results: one dict per (model run, task, language).

    Keys as CLIP_benchmark writes them (dataset, model, pretrained, task, metrics, language); "model"
    is the model's name in our tables, "pretrained" names the run (profile, setting, seed), so that
    (model, pretrained) names one set of weights as in open_clip. Metrics are fractions; each has
    its 95% bootstrap interval beside it as <metric>_ci_low and <metric>_ci_high. The language
    averages of our tables are kept under their names (avg; macro, micro), which CLIP_benchmark
    does not write.
    """
    datasets = _benchmark_datasets(profile)
    records = []
    for table, task in TABLES.items():
        path = paths.results_dir(profile) / f"{table}.csv"
        if not path.is_file():
            continue
        frame = pd.read_csv(path, dtype={"setting": str})
        frame["seed"] = pd.to_numeric(frame["seed"], errors="coerce")
        for (model, setting, seed, language), rows in frame.groupby(
            ["model", "setting", "seed", "language"], sort=False, dropna=False
        ):
            metrics = {}
            for row in rows.itertuples():
                name = _metric_name(task, row.metric)
                metrics[name] = float(row.value)
                metrics[f"{name}_ci_low"], metrics[f"{name}_ci_high"] = float(row.ci_low), float(row.ci_high)
            run = "teacher" if pd.isna(seed) else f"{setting}-seed{int(seed)}"
            records.append(
                {
                    "dataset": datasets[task],
                    "model": model,
                    "pretrained": f"tomclip-{profile}-{run}",
                    "task": task,
                    "language": language,
                    "metrics": metrics,
                }
            )
    return records


def write_benchmark_results(profile: str, folder: str | Path | None = None) -> list[Path]:
    """Write benchmark_records(profile) as one JSON file each, named as CLIP_benchmark's usual output
    template ({dataset}_{pretrained}_{model}_{language}_{task}.json), into results/<profile>/clip_benchmark/
    (replaced whole, atomically). Returns the files; none when notebook 04's tables are absent."""
    folder = Path(folder) if folder is not None else paths.results_dir(profile) / FOLDER
    records = benchmark_records(profile)
    if not records:
        return []
    names = []
    with atomic_path(folder) as tmp:
        tmp.mkdir()
        for record in records:
            name = "_".join(slug(record[k]) for k in ("dataset", "pretrained", "model", "language", "task")) + ".json"
            (tmp / name).write_text(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
            names.append(name)
    return [folder / name for name in names]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write notebook 04's tables as CLIP_benchmark results (tomclip_lib/clip_benchmark.py)."
    )
    parser.add_argument("profile", help="the profile whose notebook 04 wrote results/<profile>/*_long.csv")
    args = parser.parse_args(argv)
    try:
        files = write_benchmark_results(args.profile)
    except TomclipError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{len(files)} CLIP_benchmark result files in {paths.results_dir(args.profile) / FOLDER}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
