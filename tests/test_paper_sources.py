"""The paper profile's loaders, run offline on small fixtures written in the real formats."""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from paper_fixtures import (
    CIFAR100_FINE_LABEL_NAMES,
    EMBEDDING_FORMS,
    english_caption,
    korean_caption,
    write_cifar100,
    write_mclip,
    write_mclip_embeddings,
    write_mclip_translations,
    write_xflickrco,
)

from tomclip_lib.data import paper_sources
from tomclip_lib.data.paper_sources import (
    DROPPED_EMPTY,
    DROPPED_LANGUAGE,
    MclipPairs,
    MclipRead,
    load_cifar100_test,
    load_mclip_pairs,
    load_xflickrco,
    split_mclip,
)
from tomclip_lib.errors import TomclipError


@pytest.fixture(scope="module")
def pairs(mclip_files, hf_cache):
    return load_mclip_pairs(mclip_files.translations, mclip_files.embeddings, cache_dir=hf_cache)


def load(mclip_files, hf_cache, translations=None, embeddings=None, **kwargs):
    return load_mclip_pairs(
        translations or mclip_files.translations,
        embeddings or mclip_files.embeddings,
        cache_dir=hf_cache,
        **kwargs,
    )


def write_embeddings_table(path, ids, embedding):
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"id": ids, "embedding": embedding}), path)
    return path


# ----------------------------------------------------------------------------- M-CLIP: loading


def test_pairs_follow_embedding_order_and_join_by_id(pairs, mclip_files):
    table = mclip_files.table
    assert len(pairs) == len(table) == 20
    assert sorted(pairs.ids.tolist()) == list(range(20))
    assert pairs.ids.tolist() != list(range(20)), "the fixture stores ids shuffled, as a join must cope with"
    assert pairs.embeddings.dtype == np.float32 and pairs.embeddings.shape == (20, 512)
    np.testing.assert_array_equal(pairs.embeddings, mclip_files.vectors[pairs.ids])
    assert pairs.english == [english_caption(i) for i in pairs.ids]
    assert pairs.translated == table["caption_multi"].to_numpy()[pairs.ids].tolist()
    assert pairs.languages == table["multi_language_code"].to_numpy()[pairs.ids].tolist()
    assert pairs.positions.tolist() == list(range(20))
    assert (pairs.read.asked, pairs.read.read, pairs.read.kept) == (None, 20, 20)
    assert dict(pairs.read.dropped) == {DROPPED_EMPTY: 0}
    assert pairs.read.source == (
        f"the 2 parquet file(s) under {mclip_files.embeddings} (train/0000.parquet, train/0001.parquet)"
    )


def test_language_filter_keeps_order(pairs, mclip_files, hf_cache):
    de_ja = load(mclip_files, hf_cache, languages=["de", "ja"])
    assert set(de_ja.languages) == {"de", "ja"} and len(de_ja) == 8
    expected = [i for i, code in zip(pairs.ids, pairs.languages) if code in ("de", "ja")]
    assert de_ja.ids.tolist() == expected
    assert all(t.startswith(f"[{c}]") for t, c in zip(de_ja.translated, de_ja.languages))
    assert de_ja.positions.tolist() == [k for k, code in enumerate(pairs.languages) if code in ("de", "ja")]
    assert dict(de_ja.read.dropped) == {DROPPED_EMPTY: 0, DROPPED_LANGUAGE: 12} and de_ja.read.kept == 8


def test_korean_captions_replace_their_rows(mclip_files, hf_cache):
    with_ko = load(mclip_files, hf_cache, korean=mclip_files.korean)
    ko = [i for i, code in zip(with_ko.ids, with_ko.languages) if code == "ko"]
    assert sorted(ko) == mclip_files.korean_rows.tolist()
    for i, text, code in zip(with_ko.ids, with_ko.translated, with_ko.languages):
        assert (text == korean_caption(i)) == (code == "ko")
    only = load(mclip_files, hf_cache, korean=mclip_files.korean, languages=["ko", "de"])
    assert set(only.languages) == {"ko", "de"} and only.languages.count("ko") == len(mclip_files.korean_rows)


def test_korean_requested_without_korean_file(mclip_files, hf_cache):
    with pytest.raises(TomclipError, match=r"\['ko'\].*korean="):
        load(mclip_files, hf_cache, languages=["ko"])


@pytest.mark.parametrize("languages", [["xx"], []])
def test_unknown_or_no_language(mclip_files, hf_cache, languages):
    with pytest.raises(TomclipError, match="language"):
        load(mclip_files, hf_cache, languages=languages)


def test_language_missing_from_the_rows_read(mclip_files, hf_cache):
    with pytest.raises(TomclipError, match=r"\['vi'\].*limit"):
        load(mclip_files, hf_cache, languages=["de", "vi"])


def test_limit_keeps_the_first_embedding_rows(pairs, mclip_files, hf_cache):
    first = load(mclip_files, hf_cache, limit=7)
    assert first.ids.tolist() == pairs.ids[:7].tolist()


@pytest.mark.parametrize("limit", [0, -3, 2.5, True])
def test_bad_limit(mclip_files, hf_cache, limit):
    with pytest.raises(TomclipError, match="limit"):
        load(mclip_files, hf_cache, limit=limit)


def test_embeddings_root_folder_uses_the_config_subfolder(pairs, mclip_files, hf_cache):
    from_root = load(mclip_files, hf_cache, embeddings=mclip_files.embeddings.parent)
    assert from_root.ids.tolist() == pairs.ids.tolist()


def test_save_to_disk_folder_and_single_parquet_file(pairs, mclip_files, hf_cache, tmp_path):
    import datasets

    saved = tmp_path / "translations_saved"
    datasets.Dataset.from_parquet(str(mclip_files.translations), cache_dir=str(hf_cache)).save_to_disk(str(saved))
    single = write_embeddings_table(
        tmp_path / "one.parquet",
        pa.array(pairs.ids),
        pa.array(pairs.embeddings[:, None, :].tolist(), pa.list_(pa.list_(pa.float32()))),
    )
    again = load(mclip_files, hf_cache, translations=saved, embeddings=single)
    assert again.ids.tolist() == pairs.ids.tolist() and again.translated == pairs.translated
    np.testing.assert_array_equal(again.embeddings, pairs.embeddings)


@pytest.mark.parametrize("form", EMBEDDING_FORMS)
def test_every_embedding_form_loads_the_written_values_exactly(pairs, mclip_files, hf_cache, tmp_path, form):
    folder = write_mclip_embeddings(tmp_path, mclip_files.vectors, order=pairs.ids, form=form)
    table, _ = paper_sources._load_table(folder, "embeddings", ("id", "embedding"), None, hf_cache)
    read_back = table.column("embedding").type
    if form == "array2d":  # the real encoding: datasets' feature metadata in the file, an extension type read back
        metadata = pq.read_schema(folder / "train" / "0000.parquet").metadata[b"huggingface"].decode()
        assert '"_type": "Array2D"' in metadata and '"shape": [1, 512]' in metadata
        assert isinstance(read_back, pa.BaseExtensionType) and "Array2D" in str(read_back)
    else:
        assert not isinstance(read_back, pa.BaseExtensionType)
    loaded = load(mclip_files, hf_cache, embeddings=folder)
    assert loaded.ids.tolist() == pairs.ids.tolist()
    assert loaded.embeddings.dtype == np.float32 and loaded.embeddings.shape == (20, 512)
    np.testing.assert_array_equal(loaded.embeddings, mclip_files.vectors[loaded.ids])


def test_fewer_rows_than_asked_name_the_files_the_counts_and_the_remedies(mclip_files, hf_cache):
    with pytest.raises(TomclipError) as error:
        load(mclip_files, hf_cache, limit=25)
    message = str(error.value)
    assert "first 25 M-CLIP embedding rows" in message and "hold only 20" in message
    assert str(mclip_files.embeddings) in message and "train/0000.parquet" in message
    assert "allow_fewer_rows" in message and "paper_data.rows" in message
    assert "partial-" not in message


def test_a_partial_export_is_named_as_such(mclip_files, hf_cache, tmp_path):
    folder = write_mclip_embeddings(tmp_path, mclip_files.vectors, split="partial-train")
    with pytest.raises(TomclipError, match=r"hold only 20.*'partial-' folder.*size limit"):
        load(mclip_files, hf_cache, embeddings=folder, limit=2_000_000)
    hub = f"{paper_sources.HUB_EXPORT} hf://datasets/M-CLIP/ImageCaptions-7M-Embeddings@refs%2Fconvert%2Fparquet/Vit-B-32/*/*.parquet"
    with pytest.raises(TomclipError, match=r"hold only 20\. The Hub's parquet converter .* 'partial-train'"):
        paper_sources._fewer_rows(hub, 2_000_000, 20, allowed=False)  # the Hub's pattern cannot show the folder


def test_fewer_rows_only_warn_when_allowed(pairs, mclip_files, hf_cache):
    with pytest.warns(UserWarning, match=r"first 25 .* hold only 20.*Going on with 20 rows"):
        fewer = load(mclip_files, hf_cache, limit=25, allow_fewer_rows=True)
    assert (fewer.read.asked, fewer.read.read) == (25, 20) and fewer.ids.tolist() == pairs.ids.tolist()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # exactly the rows asked for: silent
        assert load(mclip_files, hf_cache, limit=20).read.read == 20


@pytest.fixture
def blank_pairs(pairs, mclip_files, hf_cache, tmp_path):
    """The fixture's pairs with the translations at embedding positions 1, 5 and 12 left empty
    ("", missing, spaces), as failed translations may be."""
    blank = {int(pairs.ids[1]): "", int(pairs.ids[5]): None, int(pairs.ids[12]): "  "}
    translations, _ = write_mclip_translations(tmp_path, blank=blank)
    return load(mclip_files, hf_cache, translations=translations)


def test_empty_translations_are_dropped_and_counted(pairs, blank_pairs):
    kept = [k for k in range(20) if k not in (1, 5, 12)]
    assert blank_pairs.positions.tolist() == kept and blank_pairs.ids.tolist() == pairs.ids[kept].tolist()
    assert dict(blank_pairs.read.dropped) == {DROPPED_EMPTY: 3}
    assert (blank_pairs.read.read, blank_pairs.read.kept) == (20, 17)
    np.testing.assert_array_equal(blank_pairs.embeddings, pairs.embeddings[kept])


def test_the_split_cuts_at_raw_positions_not_after_the_drop(pairs, blank_pairs):
    split = split_mclip(blank_pairs, validation_rows=4, low_resource_rows=6, total_rows=None)
    assert split.validation.ids.tolist() == pairs.ids[[0, 2, 3]].tolist(), "position 1 is dropped, 4 stays in train"
    assert split.low_resource_train.ids.tolist() == pairs.ids[[4, 6, 7, 8, 9]].tolist()
    assert split.train.ids.tolist() == pairs.ids[[k for k in range(4, 20) if k not in (5, 12)]].tolist()
    seeded = split_mclip(blank_pairs, validation_rows=4, low_resource_rows=6, total_rows=None, seed=1)
    full = split_mclip(pairs, validation_rows=4, low_resource_rows=6, total_rows=None, seed=1)
    assert set(seeded.low_resource_train.positions) == set(full.low_resource_train.positions) - {5, 12}


def test_a_split_whose_rows_were_all_dropped_is_refused(pairs, mclip_files, hf_cache, tmp_path):
    translations, _ = write_mclip_translations(tmp_path, blank={int(i): "" for i in pairs.ids[:4]})
    blank = load(mclip_files, hf_cache, translations=translations)
    with pytest.raises(TomclipError, match=r"Every validation row was dropped.*'empty translation': 4"):
        split_mclip(blank, validation_rows=4, low_resource_rows=6)


def test_translations_all_empty(mclip_files, hf_cache, tmp_path):
    translations, _ = write_mclip_translations(tmp_path, blank={i: "" for i in range(20)})
    with pytest.raises(TomclipError, match="Every one of the 20 embedding rows .* was dropped"):
        load(mclip_files, hf_cache, translations=translations)


def test_missing_source(mclip_files, hf_cache, tmp_path):
    with pytest.raises(TomclipError, match="nowhere.*does not exist"):
        load(mclip_files, hf_cache, translations=tmp_path / "nowhere")


def test_folder_without_parquet(mclip_files, hf_cache, tmp_path):
    with pytest.raises(TomclipError, match="No parquet file"):
        load(mclip_files, hf_cache, embeddings=tmp_path)


def test_corrupt_parquet(mclip_files, hf_cache, tmp_path):
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not a parquet file")
    with pytest.raises(TomclipError, match="Could not read the M-CLIP embeddings"):
        load(mclip_files, hf_cache, embeddings=bad)


def test_translations_without_caption_multi(mclip_files, hf_cache, tmp_path):
    path = tmp_path / "translations.parquet"
    pq.write_table(pq.read_table(mclip_files.translations).drop_columns(["caption_multi"]), path)
    with pytest.raises(TomclipError, match=r"translations\.parquet lack column\(s\) \['caption_multi'\]"):
        load(mclip_files, hf_cache, translations=path)


def test_embeddings_without_embedding_column(mclip_files, hf_cache, tmp_path):
    path = tmp_path / "emb.parquet"
    pq.write_table(pa.table({"id": pa.array([0, 1]), "vector": pa.array([[0.0], [1.0]])}), path)
    with pytest.raises(TomclipError, match=r"lack column\(s\) \['embedding'\]"):
        load(mclip_files, hf_cache, embeddings=path)


def test_join_without_matches(mclip_files, hf_cache, tmp_path):
    folder = write_embeddings_table(tmp_path / "emb.parquet", pa.array([1000, 1001]), pa.array([[[0.5] * 4]] * 2))
    with pytest.raises(TomclipError, match="No embedding id.*matches"):
        load(mclip_files, hf_cache, embeddings=folder)


def test_join_with_some_ids_missing(mclip_files, hf_cache, tmp_path):
    folder = write_embeddings_table(tmp_path / "emb.parquet", pa.array([0, 999]), pa.array([[[0.5] * 4]] * 2))
    with pytest.raises(TomclipError, match="1 of 2 embedding ids.*first missing id: 999"):
        load(mclip_files, hf_cache, embeddings=folder)


def test_ragged_embeddings(mclip_files, hf_cache, tmp_path):
    folder = write_embeddings_table(tmp_path / "emb.parquet", pa.array([0, 1]), pa.array([[[0.5] * 4], [[0.5] * 3]]))
    with pytest.raises(TomclipError, match="ragged"):
        load(mclip_files, hf_cache, embeddings=folder)


def test_non_integer_ids(mclip_files, hf_cache, tmp_path):
    folder = write_embeddings_table(tmp_path / "emb.parquet", pa.array(["0", "1"]), pa.array([[[0.5] * 4]] * 2))
    with pytest.raises(TomclipError, match="'id'.*integers"):
        load(mclip_files, hf_cache, embeddings=folder)


def test_hub_id_when_offline(mclip_files, hf_cache, monkeypatch):
    monkeypatch.setattr(paper_sources, "is_reachable", lambda host: False)
    with pytest.raises(TomclipError, match="M-CLIP/ImageCaptions-7M-Translations.*unreachable.*local"):
        load(mclip_files, hf_cache, translations="M-CLIP/ImageCaptions-7M-Translations")


@pytest.mark.parametrize(
    "content, message",
    [
        ("index,caption_kr\n1,x\n", r"lacks column\(s\) \['caption_ko'\]"),
        ("index,caption_ko\n21,x\n", "between 1 and 20"),
        ("index,caption_ko\n0,x\n", "between 1 and 20"),
        ("index,caption_ko\n3,x\n3,y\n", "row 3 twice"),
    ],
)
def test_bad_korean_file(mclip_files, hf_cache, tmp_path, content, message):
    path = tmp_path / "ko.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TomclipError, match=message):
        load(mclip_files, hf_cache, korean=path)


def test_missing_korean_file(mclip_files, hf_cache, tmp_path):
    with pytest.raises(TomclipError, match="korean=.*does not exist"):
        load(mclip_files, hf_cache, korean=tmp_path / "ko.csv")


# ----------------------------------------------------------------------------- M-CLIP: split


def test_split_follows_the_reference(pairs):
    split = split_mclip(pairs, validation_rows=4, low_resource_rows=6)
    assert split.validation.ids.tolist() == pairs.ids[:4].tolist()
    assert split.train.ids.tolist() == pairs.ids[4:].tolist()
    assert split.low_resource_train.ids.tolist() == pairs.ids[4:10].tolist()
    assert split.low_resource_train.translated == pairs.translated[4:10]
    np.testing.assert_array_equal(split.train.embeddings, pairs.embeddings[4:])


def constructed_pairs(rows: int, positions=None) -> MclipPairs:
    positions = np.arange(rows) if positions is None else np.asarray(positions)
    return MclipPairs(
        ["e"] * rows,
        ["t"] * rows,
        ["de"] * rows,
        np.arange(rows),
        np.zeros((rows, 1), np.float32),
        positions,
        MclipRead("constructed", None, rows, {}),
    )


def test_split_defaults_are_the_papers_sizes():
    rows = 25_000
    many = constructed_pairs(rows)
    split = split_mclip(many)
    assert len(split.validation) == 5000 and split.validation.ids[-1] == 4999
    assert split.low_resource_train.ids.tolist() == list(range(5000, 20_000))
    assert split.train.ids.tolist() == list(range(5000, rows))


def test_split_total_rows_caps_training(pairs):
    split = split_mclip(pairs, validation_rows=4, low_resource_rows=6, total_rows=12)
    assert split.train.ids.tolist() == pairs.ids[4:12].tolist()
    assert split_mclip(pairs, validation_rows=4, low_resource_rows=6, total_rows=None).train.ids.tolist() == (
        pairs.ids[4:].tolist()
    )


def test_split_refuses_positions_out_of_order():
    with pytest.raises(TomclipError, match="positions must be one increasing number per pair"):
        split_mclip(constructed_pairs(3, [0, 2, 1]), validation_rows=1, low_resource_rows=1)


def test_seeded_low_resource_split_is_deterministic(pairs):
    first = split_mclip(pairs, validation_rows=4, low_resource_rows=6, seed=1).low_resource_train
    again = split_mclip(pairs, validation_rows=4, low_resource_rows=6, seed=1).low_resource_train
    other = split_mclip(pairs, validation_rows=4, low_resource_rows=6, seed=2).low_resource_train
    assert first.ids.tolist() == again.ids.tolist() != other.ids.tolist()
    positions = [pairs.ids.tolist().index(i) for i in first.ids]
    assert positions == sorted(positions) and min(positions) >= 4 and len(positions) == 6


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"validation_rows": 20}, "leaves no training rows"),
        ({"validation_rows": 4, "low_resource_rows": 17}, "more than the 16 training rows"),
        ({"validation_rows": 0}, "validation_rows=0"),
        ({"low_resource_rows": -1}, "low_resource_rows=-1"),
    ],
)
def test_bad_split(pairs, kwargs, message):
    with pytest.raises(TomclipError, match=message):
        split_mclip(pairs, **kwargs)


# ----------------------------------------------------------------------------- CIFAR-100


def test_cifar100_values(cifar100_root):
    import pickle

    images, labels, names = load_cifar100_test(cifar100_root, verify=False)
    with open(cifar100_root / "cifar-100-python" / "test", "rb") as f:
        raw = pickle.load(f)
    assert images.dtype == np.uint8 and images.shape == (20, 32, 32, 3) and images.flags.c_contiguous
    assert labels.dtype == np.int64 and labels.tolist() == raw[b"fine_labels"]
    assert names == list(CIFAR100_FINE_LABEL_NAMES)
    data = raw[b"data"]
    for i, y, x, c in [(0, 0, 0, 0), (3, 5, 31, 1), (19, 31, 7, 2)]:
        assert images[i, y, x, c] == data[i, c * 1024 + y * 32 + x]


def test_cifar100_fixture_fails_md5_by_default(cifar100_root):
    with pytest.raises(
        TomclipError, match=r"md5 of .*test is .*expected f0ef6b0ae62326f3e7ffdfab6717acfc.*verify=False"
    ):
        load_cifar100_test(cifar100_root)


def test_cifar100_md5_matches_torchvision_sums(cifar100_root, monkeypatch):
    from torchvision.datasets import CIFAR100

    folder = cifar100_root / "cifar-100-python"
    sums = {name: hashlib.md5((folder / name).read_bytes()).hexdigest() for name in ("test", "meta")}
    monkeypatch.setattr(CIFAR100, "test_list", [["test", sums["test"]]])
    monkeypatch.setattr(CIFAR100, "meta", {**CIFAR100.meta, "md5": sums["meta"]})
    assert len(load_cifar100_test(cifar100_root)[0]) == 20


def test_cifar100_missing_folder(tmp_path):
    with pytest.raises(TomclipError, match="cifar-100-python.*does not exist"):
        load_cifar100_test(tmp_path, verify=False)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("test", {b"data": np.zeros((2, 3072), np.uint8)}, r"lacks key\(s\) \['fine_labels'\]"),
        ("test", {b"data": np.zeros((2, 100), np.uint8), b"fine_labels": [0, 1]}, "uint8 array of N x 3072"),
        ("test", {b"data": np.zeros((2, 3072), np.uint8), b"fine_labels": [0, 100]}, "0..99"),
        ("meta", {b"fine_label_names": [b"apple"]}, "has 1 names"),
        ("meta", [1, 2], "holds a list"),
    ],
)
def test_cifar100_bad_content(tmp_path, name, content, message):
    import pickle

    root = write_cifar100(tmp_path, images=2)
    with open(root / "cifar-100-python" / name, "wb") as f:
        pickle.dump(content, f, protocol=2)
    with pytest.raises(TomclipError, match=message):
        load_cifar100_test(root, verify=False)


def test_cifar100_corrupt_pickle(tmp_path):
    root = write_cifar100(tmp_path, images=2)
    (root / "cifar-100-python" / "meta").write_bytes(b"garbage")
    with pytest.raises(TomclipError, match="not a readable CIFAR-100 pickle"):
        load_cifar100_test(root, verify=False)


# ----------------------------------------------------------------------------- xFlickr&CO


def test_xflickrco_pairs(xflickrco_files):
    pairs = load_xflickrco(xflickrco_files.annotations, xflickrco_files.image_roots, "de")
    records = xflickrco_files.records["de"]
    assert [caption for _, caption in pairs] == [r["sentences"][0] for r in records]
    assert [path.name for path, _ in pairs] == [r["img_path"] for r in records]
    assert [path.parent for path, _ in pairs] == [xflickrco_files.image_roots["flickr30k"]] * 3 + [
        xflickrco_files.image_roots["coco"]
    ] * 2
    assert all(path.is_file() for path, _ in pairs)
    assert isinstance(records[0]["id"], str) and isinstance(records[-1]["id"], int)


def test_xflickrco_first_caption_per_image(tmp_path):
    files = write_xflickrco(tmp_path, languages=["ja"], sentences_per_image=2)
    test_file = files.annotations / "ja" / "test.jsonl"
    repeat = dict(files.records["ja"][0], sentences=["a later caption"])
    with open(test_file, "a", encoding="utf-8") as f:
        f.write("\n" + json.dumps(repeat) + "\n")
    pairs = load_xflickrco(files.annotations, files.image_roots, "ja")
    assert [c for _, c in pairs] == [r["sentences"][0] for r in files.records["ja"]]


@pytest.mark.parametrize(
    "lang, message",
    [("ko", "no language 'ko'"), ("fr", "no language 'fr'"), ("es", r"es[/\\]test\.jsonl do not exist")],
)
def test_xflickrco_unknown_or_absent_language(xflickrco_files, lang, message):
    with pytest.raises(TomclipError, match=message):
        load_xflickrco(xflickrco_files.annotations, xflickrco_files.image_roots, lang)


def test_xflickrco_missing_image(tmp_path):
    files = write_xflickrco(tmp_path, languages=["en"])
    name = files.records["en"][-1]["img_path"]
    (files.image_roots["coco"] / name).unlink()
    with pytest.raises(TomclipError, match=f"1 of 5 images .* are missing, e.g. .*{name}"):
        load_xflickrco(files.annotations, files.image_roots, "en")


def test_xflickrco_image_roots_checked(xflickrco_files, tmp_path):
    roots = xflickrco_files.image_roots
    with pytest.raises(TomclipError, match="no 'coco' folder"):
        load_xflickrco(xflickrco_files.annotations, {"flickr30k": roots["flickr30k"]}, "en")
    with pytest.raises(TomclipError, match=r"image_roots\['coco'\] = .* is not a folder"):
        load_xflickrco(xflickrco_files.annotations, {**roots, "coco": tmp_path / "absent"}, "en")
    with pytest.raises(TomclipError, match=r"unknown key\(s\) \['mscoco'\]"):
        load_xflickrco(xflickrco_files.annotations, {**roots, "mscoco": roots["coco"]}, "en")
    with pytest.raises(TomclipError, match="must map"):
        load_xflickrco(xflickrco_files.annotations, [roots["coco"]], "en")


def test_xflickrco_reads_the_kaggle_flickr30k_layout_from_either_level(tmp_path):
    files = write_xflickrco(tmp_path, languages=["en"], kaggle_flickr30k=True)
    outer = files.image_roots["flickr30k"]
    assert files.flickr30k_jpegs == outer / "flickr30k_images" and (outer / "results.csv").is_file()
    for given in (outer, files.flickr30k_jpegs, tmp_path):  # the archive's folder, its inner one, the one above
        pairs = load_xflickrco(files.annotations, {**files.image_roots, "flickr30k": given}, "en")
        assert [path.parent for path, _ in pairs[:3]] == [files.flickr30k_jpegs] * 3
        assert all(path.is_file() for path, _ in pairs)


def test_xflickrco_names_the_kaggle_folder_beside_a_missing_official_one(tmp_path):
    files = write_xflickrco(tmp_path, languages=["en"], kaggle_flickr30k=True)
    official = tmp_path / "flickr30k-images"
    with pytest.raises(
        TomclipError,
        match=r"flickr30k-images is not a folder\. There is .* name .*flickr30k_images[/\\]flickr30k_images instead",
    ):
        load_xflickrco(files.annotations, {**files.image_roots, "flickr30k": official}, "en")


@pytest.mark.parametrize("line", ["{not json", json.dumps({"sentences": [], "img_path": "1.jpg"}), json.dumps(["a"])])
def test_xflickrco_bad_line(xflickrco_files, tmp_path, line):
    annotations = tmp_path / "annotations"
    shutil.copytree(xflickrco_files.annotations, annotations)
    with open(annotations / "en" / "test.jsonl", "a", encoding="utf-8") as f:
        f.write(line + "\n")
    with pytest.raises(TomclipError, match=r"test\.jsonl:6 "):
        load_xflickrco(annotations, xflickrco_files.image_roots, "en")


def test_fixtures_are_deterministic(tmp_path):
    a, b = (write_mclip(tmp_path / name) for name in ("a", "b"))
    assert a.table.equals(b.table) and a.korean_rows.tolist() == b.korean_rows.tolist()
    np.testing.assert_array_equal(a.vectors, b.vectors)
    for part in ("0000.parquet", "0001.parquet"):
        assert pq.read_table(a.embeddings / "train" / part).equals(pq.read_table(b.embeddings / "train" / part))
    x, y = (write_xflickrco(tmp_path / name, languages=["de"]) for name in ("x", "y"))
    assert x.records == y.records
    for key in x.image_roots:
        assert [p.read_bytes() for p in sorted(x.image_roots[key].iterdir())] == [
            p.read_bytes() for p in sorted(y.image_roots[key].iterdir())
        ]
    first, second = (write_cifar100(tmp_path / name) / "cifar-100-python" / "test" for name in ("c1", "c2"))
    assert first.read_bytes() == second.read_bytes()
