"""Every notebook runs the paper profile's path end to end, offline: fixture files in the real
formats (M-CLIP parquet, CIFAR-100 pickles, xFlickr&CO jsonl and JPEGs), a small open_clip CLIP shaped
like ViT-B-32 with random weights (ViT-B-32 itself is built in test_paper_profile.py) and a small
random XLM-RoBERTa fine-tuned whole, as `make paper PROFILE=paper`
runs them, with every output written under a temporary repository root."""

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import jupytext
import pandas as pd
import pytest
import torch
import yaml

from tomclip_lib import assets, paths
from tomclip_lib.data.paper_sources import XFLICKRCO_LANGUAGES

EVALUATED = ["en", "ko", "ja"]  # Korean has no xFlickr&CO captions: retrieval covers the other two
# The chain's stages; within a stage, lanes that run side by side, each notebook of a lane in turn.
STAGES = [
    [["01_data"]],
    [["02_teacher"]],
    [["03_train"], ["07_topology"]],
    [["05_ablations", "04_evaluate"], ["06_figures", "08_embedding_geometry"]],
]


def execute(root, name: str, values: dict, env: dict) -> None:
    """Run notebook `name` with papermill's command line in its own process (kernel python3, working
    directory root); a failure names the notebook and shows the end of papermill's report."""
    notebook = jupytext.read(paths.NOTEBOOKS_DIR / f"{name}.py")
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source = root / f"{name}.ipynb"
    jupytext.write(notebook, source)
    parameters = root / f"{name}.yaml"
    parameters.write_text(yaml.safe_dump(values))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "papermill",
            str(source),
            str(root / f"{name}.out.ipynb"),
            "-f",
            str(parameters),
            "-k",
            "python3",
            "--cwd",
            str(root),
            "--no-progress-bar",
            "--log-level",
            "ERROR",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        pytest.fail(f"notebook {name} failed on the paper profile's fixtures:\n{(done.stdout + done.stderr)[-6000:]}")


@pytest.fixture(scope="module")
def tiny_xlmr(tmp_path_factory):
    """A random two-layer XLM-RoBERTa with XLM-R's own vocabulary, saved as a Hugging Face folder."""
    from paper_fixtures import tiny_xlm_roberta
    from transformers import AutoTokenizer

    folder = tmp_path_factory.mktemp("tiny-xlmr")
    tokenizer = AutoTokenizer.from_pretrained(assets.resolve("intfloat/multilingual-e5-small"))
    model = tiny_xlm_roberta(tokenizer)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    """An open_clip model config as ViT-B-32 (224 px, 32 px patches, 512-d embeddings, CLIP's tokenizer),
    two layers 64 wide in each tower: the paper's code path at a fraction of ViT-B-32's cost."""
    config = tmp_path_factory.mktemp("tiny-clip") / "tiny-clip-b-32.json"
    config.write_text(
        json.dumps(
            {
                "embed_dim": 512,
                "vision_cfg": {"image_size": 224, "layers": 2, "width": 64, "head_width": 32, "patch_size": 32},
                "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
            }
        )
    )
    return config


@pytest.fixture(scope="module")
def tiny_cloob(tmp_path_factory, tiny_clip):
    """tiny_clip's architecture with random weights of its own, saved as the CLOOB authors save theirs
    (tests/test_cloob_checkpoint.py: the layout; the notebook's teacher registers the architecture)."""
    import open_clip
    from test_cloob_checkpoint import _as_cloob

    open_clip.add_model_config(tiny_clip)
    torch.manual_seed(1)
    model = open_clip.create_model(tiny_clip.stem, pretrained=None)
    path = tmp_path_factory.mktemp("cloob") / "cloob_tiny_epoch_1.pt"
    state = {_as_cloob(key): value for key, value in model.state_dict().items()}
    torch.save({"epoch": 1, "model_config_file": tiny_clip.name, "state_dict": state}, path)
    return path


@pytest.fixture(scope="module")
def paper_run(tmp_path_factory, mclip_files, cifar100_root, tiny_xlmr, tiny_clip, tiny_cloob):
    from paper_fixtures import write_xflickrco

    root = tmp_path_factory.mktemp("repo")
    # 20 images: enough for the geometry notebook's UMAP (15 neighbours) and HDBSCAN.
    xflickrco = write_xflickrco(
        tmp_path_factory.mktemp("xflickrco"), languages=XFLICKRCO_LANGUAGES, flickr_images=12, coco_images=8
    )
    paper_data = dict(
        translations=str(mclip_files.translations),
        embeddings=str(mclip_files.embeddings),
        korean=str(mclip_files.korean),
        rows=None,
        validation_rows=4,
        low_resource_rows=8,
        cifar100_root=str(cifar100_root),
        verify_cifar100=False,
        xflickrco_annotations=str(xflickrco.annotations),
        coco_images=str(xflickrco.image_roots["coco"]),
        flickr30k_images=str(xflickrco.image_roots["flickr30k"]),
        teacher_weights=None,
        teacher_model=str(tiny_clip),
        datasets_cache=str(tmp_path_factory.mktemp("hf-datasets")),
    )
    parameters = {
        "01_data": dict(
            profile="paper", grid_languages=["en", "ja", "ru", "zh", "de"], image_size=224, paper_data=paper_data
        ),
        "02_teacher": dict(profile="paper", n_boot=50),
        "03_train": dict(
            profile="paper",
            variants=["MCLIP", "ToMCLIP"],
            seeds_full=[0],
            seeds_low=[0, 1],
            batch_size=4,
            lr=1e-5,
            max_epochs=1,
            warmup_steps=1,
            mode="reference",
            backbone=str(tiny_xlmr),
            head_hidden=None,
            trainable_layers="all",
            processes=2,
            reference_target_norm=None,
            sweep_weights=[0.01],
            sweep_seeds=[0],
            sweep_models=["ToMCLIP"],
            top_layers=0,
            fixed_epochs=None,  # as params/paper.yaml
            languages=EVALUATED,
        ),
        # Three languages, not 13: 13 x 100 prompts through every text tower would take minutes here.
        # M-CLIP's pairs have no test split and the fixture 4 validation rows: coherence on its training rows
        "04_evaluate": dict(
            profile="paper", languages=EVALUATED, n_boot=50, coherence_split="train", coherence_neighbours=1
        ),
        "05_ablations": dict(
            profile="paper",
            seeds=[0],
            batch_sizes=[4],
            weights={"distance_matrix": 0.01, "topology_h0": 0.01},
            scales=[None, 0.5],
            h1_weight=0.01,
            teacher_seeds=[0],
            max_epochs=1,
            languages=EVALUATED,
        ),
        "06_figures": dict(profile="paper", catalogue_size=24, batch_size=24, diagram_points=16, perplexity=5.0),
        "07_topology": dict(profile="paper", batch_size=24, eps_grid=[0.0, 0.5, 1.0], reference_calls=10, h1_points=16),
        "08_embedding_geometry": dict(
            profile="paper",
            languages=EVALUATED,
            students=["MCLIP", "ToMCLIP"],
            min_cluster_size=5,
            cloob_checkpoint=str(tiny_cloob),  # a published checkpoint's layout, random weights
        ),
    }
    # Each notebook in its own papermill process, as `make paper` runs them, in dependency order
    # (notebooks/dependencies.mk); two lanes where the order allows (07 needs only the teacher, 04-06 and 08
    # only 03's students): the kernels spend much of their time on one core, and the machine has two.
    assert sorted(name for stage in STAGES for lane in stage for name in lane) == sorted(parameters)
    shutil.copytree(paths.PARAMS_DIR, root / "params")  # a repository root's profiles (04 reads paper.yaml's data)
    env = {**os.environ, "TOMCLIP_ROOT": str(root)}  # results, figures, artifacts go under root
    for stage in STAGES:
        with ThreadPoolExecutor(len(stage)) as pool:
            list(pool.map(lambda lane: [execute(root, name, parameters[name], env) for name in lane], stage))
    return root


def test_the_paper_corpus_is_mclip_split_as_the_reference(paper_run):
    corpus = pd.read_parquet(paper_run / "artifacts" / "paper" / "corpus.parquet")
    assert list(corpus["split"][:4]) == ["validation"] * 4 and set(corpus["split"][4:]) == {"train"}
    assert corpus["low_resource"].sum() == 8 and corpus["low_resource"][4:12].all()
    assert "ko" in set(corpus["lang"]) and "sv" in set(corpus["lang"]), "every M-CLIP language, Korean overlaid"
    card = (paper_run / "results" / "paper" / "data_card.md").read_text()
    assert "CIFAR-100 test" in card and "| sv " in card


def test_the_paper_tables_cover_the_languages_and_xflickrco(paper_run):
    results = paper_run / "results" / "paper"
    zero_shot = pd.read_csv(results / "zero_shot_long.csv")
    assert set(zero_shot["language"]) == set(EVALUATED) | {"avg"}
    # The sweep's one weight is the paper's 0.01, the balanced one: no "ToMCLIP (chosen)" row repeats ToMCLIP.
    assert set(zero_shot["model"]) == {"CLIP (teacher text encoder)", "MCLIP", "ToMCLIP"}
    assert zero_shot.query("model == 'ToMCLIP' and setting == 'low'")["seed"].nunique() == 2
    retrieval = pd.read_csv(results / "retrieval_long.csv")
    assert set(retrieval["language"]) - {"macro", "micro"} == {"en", "ja"}
    assert retrieval["value"].between(0, 1).all()
    reference = pd.read_csv(results / "teacher_english_reference.csv")
    assert set(reference["task"]) == {"zero-shot", "retrieval"}
    for name in ("data_retrieval_grid", "data_zero_shot_grid", "data_categories", "teacher_retrieval_examples"):
        assert (paper_run / "figures" / "paper" / f"{name}.png").stat().st_size > 1000


def test_the_ablations_vary_the_paper_training_and_score_on_mclip_validation_rows(paper_run):
    results = paper_run / "results" / "paper"
    sweep = pd.read_csv(results / "sweep_scores.csv")  # notebook 03: the paper's 0.01 is the balanced weight there
    assert sweep["weight"].tolist() == [0.0, 0.01] and sweep["paper-balanced"].tolist() == [False, True]
    # The fixture's 4 validation rows make no coherence batch of 3 captions, nor two queries of a language
    # to pair: the test queries' reciprocal rank alone is paired.
    response = pd.read_csv(results / "dose_response.csv")
    assert set(zip(response["endpoint"], response["split"])) == {("reciprocal rank", "test")}
    verdicts = pd.read_csv(results / "tomclip_vs_mclip.csv")
    assert set(verdicts["model"]) == {"ToMCLIP"} and (verdicts["ci_low"] <= verdicts["ci_high"]).all()
    shape = pd.read_csv(results / "coherence_vs_mclip.csv")
    assert set(shape["model"]) == {"ToMCLIP"} and shape["difference"].notna().all()
    for name in ("batch_size", "sparsification", "mode", "h1"):
        table = pd.read_csv(results / f"ablation_{name}.csv")
        scores = table[["validation R@1 mean", "retrieval R@1 mean", "zero-shot top-1 mean"]]
        assert len(table) >= 2 and scores.notna().all().all() and scores.stack().between(0, 100).all(), name
        assert (paper_run / "figures" / "paper" / f"ablation_{name}.png").stat().st_size > 1000
    configs = [
        json.loads(path.read_text()) for path in (paper_run / "artifacts" / "paper").glob("students/*/config.json")
    ]
    assert any(c["variant"] == "ToMCLIP(ta)" for c in configs), (
        "the mode ablation trains ToMCLIP(ta), which 03 does not"
    )
    assert {(c["lr"], c["warmup_steps"], c["mode"]) for c in configs if c["variant"] == "MCLIP"} == {
        (1e-5, 1, "reference")
    }, "05 varies notebook 03's training configuration"
    # OpenAI's CLIP is loaded as published: there is no teacher training to ablate.
    assert pd.read_csv(results / "ablation_teacher_toma.csv").empty


def test_the_figures_and_the_geometry_study_run_on_the_paper_models(paper_run):
    figures = paper_run / "figures" / "paper"
    for name in (
        "figure1_tsne_emoji_names",
        "figure2_tsne_cifar100_prompts",
        "figure3_sorted_distances",
        "figure_persistence_diagrams",
        "topology_death_distributions",
        "topology_theorem_bound",
        "topology_sliced_vs_exact",
        "geometry_local_dimension",
    ):
        assert (figures / f"{name}.png").stat().st_size > 1000 and (figures / f"{name}.pdf").exists(), name
    geometry = pd.read_csv(paper_run / "results" / "paper" / "geometry_global.csv")
    assert set(geometry["language"]) == {"en", "ja"}, "xFlickr&CO has no Korean: 08 keeps the captioned languages"
    assert set(geometry["model"]) == {"CLIP (teacher text tower)", "MCLIP", "ToMCLIP"}
    assert geometry["R@1"].between(0, 1).all()
    # CLIP's space against CLOOB's: the named checkpoint loads beside OpenAI's CLIP (here both random)
    spaces = pd.read_csv(paper_run / "results" / "paper" / "spaces_global.csv")
    assert set(spaces["objective"]) == {"infonce", "infoloob+hopfield"}
    assert spaces["modality gap low"].le(spaces["modality gap high"]).all()
    cloob = spaces[spaces["objective"] == "infoloob+hopfield"]
    assert list(cloob["model"]) == ["teacher text tower"]  # its own text tower: the students are CLIP's, not measured
    assert not pd.read_csv(paper_run / "results" / "paper" / "spaces_differences.csv").empty
    verdicts = pd.read_csv(paper_run / "results" / "paper" / "spaces_verdicts.csv").set_index("finding")
    assert pd.notna(verdicts.loc["b", "estimate"])
    assert "cloob_tiny_epoch_1.pt beside OpenAI's CLIP" in (paper_run / "08_embedding_geometry.out.ipynb").read_text()
    assert (figures / "spaces_clip_vs_cloob.png").stat().st_size > 1000
