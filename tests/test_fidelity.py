"""How well a student learnt its teacher (stages.fidelity): English scores over the teacher's, per
zero-shot class, and pooled over the class names a student read in training, on hand-made records."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from test_verdicts import retrieval, zero_shot

from tomclip_lib.stages import fidelity
from tomclip_lib.stages.tables import RETRIEVAL_RR_TASK, RETRIEVAL_TASK
from tomclip_lib.stages.teacher import TEACHER_BASELINE


def test_the_teacher_fraction_divides_each_students_english_score_by_the_teachers():
    teacher = pd.DataFrame(
        [
            dict(model=TEACHER_BASELINE, setting="-", seed=pd.NA, language="en", item=i, rank=r)
            for i, r in enumerate((0, 0, 1))
        ]  # the teacher finds 2 of 3
    ).assign(direction="text_to_image")
    with_teacher = pd.concat([retrieval(), teacher], ignore_index=True)
    zero_shot_with_teacher = pd.concat(
        [zero_shot(), teacher.drop(columns="direction").rename(columns={"item": "image"})]
    )
    fraction = fidelity.teacher_fraction(zero_shot_with_teacher, with_teacher).set_index(["task", "model"])
    row = fraction.loc[(RETRIEVAL_TASK, "ToMCLIP")]
    # ToMCLIP's English hits: seed 0 [1, 1, 0], seed 1 [1, 1, 1]: 5/6 against the teacher's 2/3
    assert (row["student"], row["teacher"], row["seeds"]) == pytest.approx((500 / 6, 200 / 3, 2))
    assert row["fraction"] == pytest.approx(1.25)
    assert row["fraction_low"] < row["fraction_low_items"] < 1.25 < row["fraction_high_items"] < row["fraction_high"]
    assert TEACHER_BASELINE not in fraction.index.get_level_values("model")
    # reciprocal rank of the same records (a miss at rank 1 scores 1/2): 5.5/6 against the teacher's 2.5/3
    reciprocal = fraction.loc[(RETRIEVAL_RR_TASK, "ToMCLIP")]
    assert (reciprocal["student"], reciprocal["teacher"]) == pytest.approx((100 * 5.5 / 6, 100 * 2.5 / 3))
    assert reciprocal["fraction"] == pytest.approx(1.1)


def test_the_fractions_interval_is_the_delta_methods_on_the_shared_items():
    """One seed hits [1, 1, 0, 0] where the teacher hits all four: the ratio 0.5, its linearised
    deviations (s - 0.5 t) / 1 = [0.5, 0.5, -0.5, -0.5], variance 1/3, so the mean's standard error
    is sqrt(1/12) and the 95% t interval (3 df) is 0.5 +- 3.182 x 0.2887."""
    ratio, low, high = fidelity._ratio_interval(np.array([[1.0, 1, 0, 0]]), np.ones(4), 0.95)
    half = stats.t.ppf(0.975, 3) * np.sqrt(1 / 12)
    assert (ratio, low, high) == pytest.approx((0.5, 0.5 - half, 0.5 + half))
    same = fidelity._ratio_interval(np.array([[1.0, 0, 1, 1], [1.0, 0, 1, 1]]), np.array([1.0, 0, 1, 1]), 0.95)
    assert same == pytest.approx((1.0, 1.0, 1.0))  # a student that is its teacher: no doubt left
    assert all(np.isnan(fidelity._ratio_interval(np.ones((1, 3)), np.zeros(3), 0.95)))  # a teacher that finds nothing


def _zero_shot_records() -> pd.DataFrame:
    """Two classes of two images each (Fashion-MNIST's labels 0 and 2). The teacher gets all four; the
    student, seed 0: class 0 both, class 2 none; seed 1: class 0 one, class 2 one."""
    rows = [dict(model=TEACHER_BASELINE, setting="-", seed=pd.NA, image=i, label=i // 2, rank=0) for i in range(4)]
    hits = {0: [1, 1, 0, 0], 1: [1, 0, 1, 0]}
    rows += [
        dict(model="MCLIP", setting="full", seed=seed, image=i, label=i // 2, rank=0 if hit else 3)
        for seed, by_image in hits.items()
        for i, hit in enumerate(by_image)
    ]
    frame = pd.DataFrame(rows).assign(language="en")
    frame["label"] = frame["label"].map({0: 0, 1: 2})  # T-shirt/top and Pullover
    frame["seed"] = frame["seed"].astype("Int16")
    return pd.concat([frame, frame.assign(language="ko", rank=0)], ignore_index=True)  # Korean must not count


def test_class_accuracy_is_the_mean_over_seeds_per_class_with_its_name_and_whether_training_read_it():
    table = fidelity.class_accuracy(_zero_shot_records(), "fashion-mnist", {0: True, 2: False})
    student = table[table["model"] == "MCLIP"].set_index("class")
    # T-shirt/top: seed 0 100%, seed 1 50%; Pullover: 0% and 50%
    assert student["accuracy"].to_dict() == pytest.approx({"T-shirt/top": 75.0, "Pullover": 25.0})
    assert student.loc["T-shirt/top", "sd"] == pytest.approx(35.3553, rel=1e-4)
    assert list(student["name in training"]) == [True, False] and set(student["seeds"]) == {2}
    teacher = table[table["model"] == TEACHER_BASELINE]
    assert list(teacher["accuracy"]) == [100.0, 100.0] and set(table["language"]) == {"en"}
    wide = fidelity.wide_by_class(table).set_index("model")
    assert list(wide.columns) == ["setting", "T-shirt/top", "Pullover"] and wide.loc["MCLIP", "Pullover"] == 25.0


def test_the_fraction_by_vocabulary_pools_seen_and_unseen_class_names_against_the_teacher():
    table = fidelity.class_accuracy(_zero_shot_records(), "fashion-mnist", {0: True, 2: False})
    pooled = fidelity.fraction_by_vocabulary(table).set_index("name in training")
    assert pooled.loc[True, ["classes", "student", "teacher", "fraction"]].tolist() == pytest.approx([1, 75, 100, 0.75])
    assert pooled.loc[False, "fraction"] == pytest.approx(0.25)


def test_a_class_name_counts_as_read_only_as_whole_words_of_a_training_caption():
    corpus = pd.DataFrame(
        {
            "en": ["clothing, shirt, t-shirt", "running shoe", "sandals", "ankle boot"],
            "split": ["train", "train", "train", "test"],
            "low_resource": False,
        }
    )
    seen = fidelity.names_in_training("fashion-mnist", corpus)
    # "T-shirt" and "shirt" are there; "sandal" is not a whole word of "sandals"; "ankle boot" only in test
    assert seen[0] and seen[6] and not seen[5] and not seen[9] and not seen[7]


def test_a_student_that_read_more_english_counts_those_names_as_read_and_only_that_student():
    records = _zero_shot_records()
    records = pd.concat([records, records[records["model"] == "MCLIP"].assign(model="MCLIP (converged)")])
    table = fidelity.class_accuracy(
        records, "fashion-mnist", {0: True, 2: False}, {"MCLIP (converged)": {0: True, 2: True}}
    )
    read = table.set_index(["model", "class"])["name in training"]
    assert read[("MCLIP", "Pullover")] == False  # noqa: E712 (a pandas boolean, not a Python bool)
    assert read[("MCLIP (converged)", "Pullover")] == True  # noqa: E712
    corpus = pd.DataFrame({"en": ["coat"], "split": ["train"], "low_resource": False})
    seen = fidelity.names_in_training("fashion-mnist", corpus, ["sandal", "pullover"])
    assert seen[4] and seen[5] and seen[2] and not seen[7]


def test_the_runs_say_which_students_read_a_vocabulary_and_how_much_of_it(monkeypatch):
    corpus = pd.DataFrame({"en": ["coat"], "text": ["coat"], "split": ["train"], "low_resource": False})
    nouns = pd.DataFrame({"en": ["sneaker", "sandal"]})
    calls = []

    def first_nouns(corpus, size, form):
        assert type(size) is int  # vocabulary_pairs refuses numpy integers
        calls.append((size, form))
        return nouns.head(size) if form == "noun" else nouns.head(size).map(lambda noun: f"a photo of a {noun}")

    monkeypatch.setattr(fidelity, "vocabulary_pairs", first_nouns)
    runs = pd.DataFrame({"variant": ["MCLIP", "MCLIP (converged)", "MCLIP (converged)"], "vocabulary": [0, 1, 1]})
    seen = fidelity.names_in_vocabulary("fashion-mnist", corpus, runs)
    assert list(seen) == ["MCLIP (converged)"] and calls == [(1, "noun")]  # no form column: the nouns themselves
    assert seen["MCLIP (converged)"][7] and not seen["MCLIP (converged)"][5]  # the first noun only
    in_prompts = fidelity.names_in_vocabulary("fashion-mnist", corpus, runs.assign(vocabulary_form="prompt"))
    assert in_prompts == seen and calls[-1] == (1, "prompt")  # a name inside a prompt is read too
    assert fidelity.names_in_vocabulary("fashion-mnist", corpus, runs.drop(columns="vocabulary")) == {}


@pytest.mark.parametrize("seeds, items, least, most", [(2, 2000, 0.95, 1.0), (10, 373, 0.92, 0.985)])
def test_the_fractions_interval_covers_the_true_ratio_in_simulated_hits(seeds, items, least, most):
    """Hits as the records hold them: an item's difficulty q ~ U(0, 1) is shared by teacher and student;
    the teacher finds q < 0.5, a student with seed offset b ~ U(-0.1, 0.1) finds q + e < 0.35 + b,
    e ~ N(0, 0.05). Over items and seeds the student finds 0.35, the teacher 0.5: the ratio is 0.7.
    Two seeds and many items (our converged rows, zero-shot: conservative, statistics.crossed_variance),
    ten seeds and 373 items (retrieval)."""
    rng, held, reps = np.random.default_rng(7), 0, 600
    for _ in range(reps):
        difficulty = rng.uniform(0, 1, items)
        offset = rng.uniform(-0.1, 0.1, (seeds, 1))
        student = (difficulty + rng.normal(0, 0.05, (seeds, items)) < 0.35 + offset).astype(float)
        _, low, high = fidelity._ratio_interval(student, (difficulty < 0.5).astype(float), 0.95)
        held += low <= 0.7 <= high
    assert least <= held / reps <= most, f"coverage {held / reps:.3f}"


def _reciprocal_ranks(rng, difficulty: np.ndarray, shift: np.ndarray, noise: float) -> np.ndarray:
    """Reciprocal ranks as the records give them: an item of difficulty q ~ U(0, 1) ranks its true image
    at floor(12 q^2 + shift + e), e ~ N(0, noise), never above first."""
    ranks = np.floor(12 * difficulty**2 + shift + rng.normal(0, noise, np.broadcast(difficulty, shift).shape))
    return 1.0 / (1.0 + np.maximum(ranks, 0.0))


@pytest.mark.parametrize("seeds, least, most", [(2, 0.95, 1.0), (10, 0.92, 0.985)])
def test_the_fractions_interval_covers_the_true_ratio_of_reciprocal_ranks(seeds, least, most):
    """A continuous score on the retrieval test's 373 items: the teacher ranks with shift 0, a student
    with shift 1 + b, b ~ U(-0.5, 0.5) per seed; the true ratio of mean reciprocal ranks comes from a
    million draws. Two seeds (the converged rows: conservative) and ten (the low-resource rows)."""
    rng, held, reps = np.random.default_rng(11), 0, 600
    big = rng.uniform(0, 1, 1_000_000)
    truth = _reciprocal_ranks(rng, big, 1 + rng.uniform(-0.5, 0.5, big.shape), 1.0).mean()
    truth /= _reciprocal_ranks(rng, big, np.zeros(1), 0.0).mean()
    for _ in range(reps):
        difficulty = rng.uniform(0, 1, 373)
        student = _reciprocal_ranks(rng, difficulty, 1 + rng.uniform(-0.5, 0.5, (seeds, 1)), 1.0)
        _, low, high = fidelity._ratio_interval(student, _reciprocal_ranks(rng, difficulty, np.zeros(1), 0.0), 0.95)
        held += low <= truth <= high
    assert least <= held / reps <= most, f"coverage {held / reps:.3f} of the true ratio {truth:.3f}"
