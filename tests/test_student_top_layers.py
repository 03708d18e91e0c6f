"""The student whose top backbone layers train on cached token states (models/student.py)."""

import dataclasses

import pytest
import torch

from tomclip_lib.encoding import mean_pool
from tomclip_lib.errors import TomclipError
from tomclip_lib.models import student as student_module
from tomclip_lib.models.student import CachedTokenStates, Student, StudentConfig, TokenBatch
from tomclip_lib.models.text import STUDENT_BACKBONE, load_encoder
from tomclip_lib.train import DistillationSplit, TrainConfig, train_student

TEXTS = [
    "a cat sleeping on a sofa",
    "ein Hund spielt im Park",
    "고양이가 소파에서 잔다",
    "un chat noir sur le toit",
    "猫がソファで寝ている",
    "кошка спит на диване",
    "un perro corre en la playa",
    "दो बच्चे फुटबॉल खेलते हैं",
    "a red double-decker bus in the rain",
    "كلب يجري على الشاطئ",
    "ένα σκυλί στην παραλία",
    "a",
    "bir kedi kanepede uyuyor",
    "một con mèo đang ngủ",
    "en hund som springer på stranden",
    "🐱",
    "kissa nukkuu sohvalla",
    "pies biegnie po plaży",
    "ein sehr langer Satz über einen Zug, der durch die verschneiten Berge fährt, während die Sonne untergeht",
    "חתול ישן על הספה",
]


@pytest.fixture(scope="module")
def tokenizer():
    return load_encoder(STUDENT_BACKBONE)[1]  # the asset's, loaded once per process with its model


def tiny_backbone(tokenizer, layers: int = 3, attention: str = "sdpa"):
    """A small random BERT on E5's tokenizer (dropout as a real one: 0.1)."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(1234)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=96,
    )
    config._attn_implementation = attention
    return BertModel(config, add_pooling_layer=False).eval()


def tiny_student(tokenizer, backbone, k: int, seed: int = 0) -> Student:
    config = StudentConfig(backbone="tiny-test-bert", out_dim=8, head_hidden=32, trainable_layers=k)
    return Student(config, backbone=backbone, tokenizer=tokenizer, seed=seed)


@pytest.fixture
def token_store(tmp_path, monkeypatch):
    """Token-state stores written under tmp_path instead of the user's cache."""
    original = student_module._token_store_path
    monkeypatch.setattr(student_module, "_token_store_path", lambda *args: tmp_path / original(*args).name)
    return tmp_path


def test_cached_path_matches_the_full_path(token_store):
    student = Student(StudentConfig(trainable_layers=2), seed=3).eval()
    cached = student.cached_inputs(TEXTS)
    assert len(cached) == len(TEXTS) and not cached.states.is_inference()
    with torch.no_grad():
        from_states = student(cached.select(torch.arange(len(TEXTS))))
        from_texts = student(TEXTS)
        backbone, tokenizer = student._frozen  # before training, the copies equal the backbone's layers
        batch = tokenizer(
            ["query: " + t for t in TEXTS], padding=True, truncation=True, max_length=77, return_tensors="pt"
        )
        reference = student.head(mean_pool(backbone(**batch).last_hidden_state, batch["attention_mask"]))
    assert (from_states - from_texts).abs().max() <= 1e-5
    assert (from_texts - reference).abs().max() <= 1e-5
    assert torch.equal(cached.lengths, batch["attention_mask"].sum(1))
    # Stored on disk: a second call (and another student) reads the same bits back.
    assert len(list(token_store.glob("*.npz"))) == 1
    student_module._TOKEN_STORES.clear()
    again = Student(StudentConfig(trainable_layers=2), seed=4).cached_inputs(TEXTS[::-1])
    assert torch.equal(
        again.select(torch.arange(len(TEXTS) - 1, -1, -1)).hidden, cached.select(torch.arange(len(TEXTS))).hidden
    )


def test_a_texts_states_do_not_depend_on_its_companions():
    backbone, tokenizer = load_encoder(STUDENT_BACKBONE)  # passed in: computed, not read from a store
    # Two frozen layers: the same matrix shapes as ten, in a fifth of the time.
    student = Student(StudentConfig(trainable_layers=10), backbone=backbone, tokenizer=tokenizer)
    target = "photo 7"
    length = len(tokenizer("query: " + target)["input_ids"])
    same_length = [
        text
        for text in (f"photo {i}" for i in range(10, 60))
        if len(tokenizer("query: " + text)["input_ids"]) == length
    ][:20]
    assert len(same_length) == 20  # more than one batch of TOKEN_STATES_BATCH rows of the target's length
    alone = student.cached_inputs([target])
    for texts in (
        [*same_length[:5], target],
        [*same_length, target, *TEXTS],
        [target, *TEXTS[::-1]],
        [*same_length[:13], target, *same_length[13:]],
    ):
        together = student.cached_inputs(texts)
        assert torch.equal(together.subset([texts.index(target)]).states, alone.states)


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_cached_path_matches_the_full_path_on_a_tiny_backbone(tokenizer, attention, monkeypatch):
    backbone = tiny_backbone(tokenizer, attention=attention)
    student = tiny_student(tokenizer, backbone, 2).eval()
    texts = TEXTS * 4  # 80 texts: the top layers run in chunks of TOP_CHUNK_ROWS
    cached = student.cached_inputs(texts)
    with torch.no_grad():
        chunked = student(cached.select(torch.arange(len(texts))))
        from_texts = student(texts)
        monkeypatch.setattr(student_module, "TOP_CHUNK_ROWS", 1000)
        whole = student(cached.select(torch.arange(len(texts))))
        batch = tokenizer(texts, padding=True, truncation=True, max_length=77, return_tensors="pt")
        reference = student.head(mean_pool(backbone(**batch).last_hidden_state, batch["attention_mask"]))
    assert (chunked - from_texts).abs().max() <= 1e-5
    assert (chunked - whole).abs().max() <= 1e-5
    assert (from_texts - reference).abs().max() <= 1e-5


@pytest.mark.parametrize("k", [1, 2])
def test_only_the_top_layers_and_the_head_train(tokenizer, k):
    backbone = tiny_backbone(tokenizer)
    student = tiny_student(tokenizer, backbone, k)
    trainable = {name for name, p in student.named_parameters() if p.requires_grad}
    layers = {name.split(".")[3] for name in trainable if name.startswith("backbone.")}
    assert layers == {str(i) for i in range(3 - k, 3)}
    assert {name for name in trainable if not name.startswith("backbone.encoder.layer.")} == {
        name for name, _ in student.head.named_parameters(prefix="head")
    }
    assert set(student.trainable_state()) == trainable == {name for name, _ in student.named_parameters()}
    assert not any(p.requires_grad for p in backbone.parameters())
    state = {name: value + 1 for name, value in student.trainable_state().items()}
    student.load_trainable_state(state)
    assert all(torch.equal(student.trainable_state()[name], value) for name, value in state.items())


def test_students_copy_the_top_layers_and_do_not_share_them(tokenizer):
    backbone = tiny_backbone(tokenizer)
    frozen_before = {name: p.clone() for name, p in backbone.named_parameters()}
    one, two = tiny_student(tokenizer, backbone, 1, seed=0), tiny_student(tokenizer, backbone, 1, seed=1)
    first, second = one.trainable_state(), two.trainable_state()
    assert not torch.equal(first["head.0.weight"], second["head.0.weight"])
    top = [name for name in first if name.startswith("backbone.")]
    assert top and all(torch.equal(first[name], second[name]) for name in top)
    shared = {p.data_ptr() for p in backbone.parameters()}
    assert not shared & {p.data_ptr() for p in one.parameters()}
    assert not {p.data_ptr() for p in one.parameters()} & {p.data_ptr() for p in two.parameters()}

    cached = one.cached_inputs(TEXTS)
    optimizer = torch.optim.AdamW([p for p in one.parameters() if p.requires_grad], lr=1e-2)
    one.train()
    one(cached.select(torch.arange(8))).square().sum().backward()
    optimizer.step()
    assert not torch.equal(one.trainable_state()[top[0]], second[top[0]])
    assert all(torch.equal(value, second[name]) for name, value in two.trainable_state().items())
    assert all(torch.equal(p, frozen_before[name]) for name, p in backbone.named_parameters())


def test_dropout_acts_in_train_mode_only(tokenizer):
    student = tiny_student(tokenizer, tiny_backbone(tokenizer), 1)
    batch = student.cached_inputs(TEXTS).select(torch.arange(len(TEXTS)))
    with torch.no_grad():
        student.train()
        assert not torch.equal(student(batch), student(batch))
        student.eval()
        assert torch.equal(student(batch), student(batch))


def test_select_pads_and_subset_selects():
    lengths = [3, 1, 5, 2]
    states = torch.arange(sum(lengths) * 4, dtype=torch.float32).reshape(-1, 4) + 1
    offsets = torch.tensor([0, 3, 4, 9, 11])
    cached = CachedTokenStates(states, offsets)
    assert len(cached) == 4 and cached.lengths.tolist() == lengths
    batch = cached.select(torch.tensor([3, 0, 1]))
    assert isinstance(batch, TokenBatch) and isinstance(batch, tuple)
    assert batch.hidden.shape == (3, 3, 4) and batch.attention_mask.dtype == torch.int64
    assert batch.attention_mask.sum(1).tolist() == [2, 3, 1]
    assert torch.equal(batch.hidden[0, :2], states[9:11]) and torch.equal(batch.hidden[1], states[0:3])
    assert torch.equal(batch.hidden[2, :1], states[3:4])
    assert not batch.hidden[batch.attention_mask == 0].any()
    subset = cached.subset([2, 0])
    assert subset.lengths.tolist() == [5, 3] and torch.equal(subset.states, torch.cat([states[4:9], states[0:3]]))
    assert torch.equal(subset.select([1, 0]).hidden, cached.select([0, 2]).hidden)


def test_to_dict_round_trips_through_a_weights_only_file(tmp_path):
    cached = CachedTokenStates(torch.randn(11, 4), torch.tensor([0, 3, 4, 9, 11]))
    torch.save({"inputs": cached.to_dict()}, tmp_path / "grid.pt")
    loaded = CachedTokenStates.from_dict(torch.load(tmp_path / "grid.pt", weights_only=True)["inputs"])
    assert torch.equal(loaded.states, cached.states) and torch.equal(loaded.offsets, cached.offsets)
    with pytest.raises(TomclipError, match="offsets"):
        CachedTokenStates(torch.randn(11, 4), torch.tensor([0, 3, 3, 11]))
    with pytest.raises(TomclipError, match="offsets"):
        CachedTokenStates(torch.randn(11, 4), torch.tensor([0, 3, 10]))


def test_bad_layer_counts_are_refused(tokenizer):
    with pytest.raises(TomclipError, match="whole number >= 0"):
        StudentConfig(trainable_layers=-1)
    backbone = tiny_backbone(tokenizer)
    with pytest.raises(TomclipError, match="trainable_layers=4, but the backbone has 3 layers"):
        tiny_student(tokenizer, backbone, 4)
    every_layer = tiny_student(tokenizer, backbone, 3)  # every layer trains: texts only
    assert every_layer(["a cat"]).shape == (1, 8)
    with pytest.raises(TomclipError, match=r"0 < trainable_layers < the number of layers.*trains 3 of its 3"):
        every_layer.cached_inputs(["a cat"])
    frozen_config = dataclasses.replace(every_layer.config, trainable_layers=0)
    frozen = Student(frozen_config, backbone=backbone, tokenizer=tokenizer)
    with pytest.raises(TomclipError, match="0 < trainable_layers"):
        frozen.cached_inputs(["a cat"])
    batch = tiny_student(tokenizer, backbone, 1).cached_inputs(["a cat"]).select([0])
    with pytest.raises(TomclipError, match="0 < trainable_layers"):
        frozen(batch)
    with pytest.raises(TomclipError, match="pass texts"):
        tiny_student(tokenizer, backbone, 1)(torch.zeros(2, 16))


def test_train_student_on_cached_token_states(tokenizer, tmp_path):
    student = tiny_student(tokenizer, tiny_backbone(tokenizer), 1)
    texts = [f"{text} ({i})" for i in range(2) for text in TEXTS]
    targets = torch.nn.functional.normalize(torch.randn(len(texts), 8), dim=1)
    split = DistillationSplit(student.cached_inputs(texts), targets)  # batch() calls select(rows)
    before = student.trainable_state()
    config = TrainConfig(variant="MCLIP", batch_size=8, max_epochs=2, patience=100, lr=3e-3, warmup_steps=1)
    result = train_student(config, student, split, split, tmp_path, progress=False)
    assert result.epochs == 2
    after = student.trainable_state()
    assert any(not torch.equal(after[name], before[name]) for name in before if name.startswith("backbone."))


def test_a_top_layer_students_gradients_do_not_depend_on_the_thread_count(token_store):
    """The trained copies are thread-stable: nn.LayerNorm's backward sums its weight gradient in
    per-thread chunks of tokens, and attention dropout sends attention down a path whose softmax
    backward rounds short rows by thread; either gave other weights on 1 and 2 threads."""
    student = Student(StudentConfig(trainable_layers=1), seed=5).train()
    assert not any(isinstance(m, torch.nn.LayerNorm) for m in student.modules())
    assert sum(isinstance(m, student_module.ThreadStableLayerNorm) for m in student.modules()) == 2
    layer = next(iter(student.backbone.encoder.layer.values()))
    assert layer.attention.self.dropout.p == 0.0 and layer.output.dropout.p == 0.1  # attention's off, hidden's on
    assert student._frozen[0].encoder.layer[-1].attention.self.dropout.p == 0.1  # the shared backbone untouched
    batch = student.cached_inputs(TEXTS * 4).select(torch.arange(len(TEXTS) * 4))  # ~10^5 LayerNorm entries
    target = torch.randn(len(TEXTS) * 4, student.config.out_dim, generator=torch.Generator().manual_seed(0))
    threads, gradients = torch.get_num_threads(), []
    try:
        for count in (1, 2):
            torch.set_num_threads(count)
            torch.manual_seed(0)  # the same dropout masks
            student.zero_grad()
            (student(batch) - target).square().mean().backward()
            gradients.append({name: p.grad.clone() for name, p in student.named_parameters()})
    finally:
        torch.set_num_threads(threads)
    different = [name for name in gradients[0] if not torch.equal(gradients[0][name], gradients[1][name])]
    assert not different, f"thread-dependent gradients: {different}"


def test_the_thread_stable_layer_norm_is_a_layer_norm():
    reference = torch.nn.LayerNorm(24, eps=1e-12)
    torch.nn.init.normal_(reference.weight)
    torch.nn.init.normal_(reference.bias)
    stable = student_module.ThreadStableLayerNorm(reference)
    hidden = torch.randn(3, 5, 24)
    assert torch.allclose(stable(hidden), reference(hidden), atol=1e-5)
    assert stable.state_dict().keys() == reference.state_dict().keys()


def test_a_recorded_top_layer_run_loads_with_the_one_public_call(tmp_path, monkeypatch):
    """records.load_student reads the run's own trainable layers: the grid's frozen configuration
    would lack the trained layer's parameters."""
    import pandas as pd

    from tomclip_lib import paths, records

    monkeypatch.setattr(paths, "artifacts_dir", lambda profile: tmp_path / profile)
    grid = StudentConfig(trainable_layers=0)
    trained = Student(dataclasses.replace(grid, trainable_layers=1), seed=7).eval()
    folder = tmp_path / "run"
    folder.mkdir()
    torch.save(trained.trainable_state(), folder / "best.pt")
    runs = pd.DataFrame(
        [{"variant": "MCLIP (top layer)", "setting": "low", "seed": 7, "trainable_layers": 1, "run_dir": str(folder)}]
    )
    records.save_runs("p", runs, grid, TrainConfig())
    table, _ = records.load_runs("p")
    loaded = records.load_student("p", next(table.itertuples()))
    assert torch.equal(torch.as_tensor(loaded.encode(TEXTS[:3])), torch.as_tensor(trained.encode(TEXTS[:3])))
