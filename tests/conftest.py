"""Shared fixtures: an isolated cache, output folders in tmp, and a small real corpus."""

import pytest

from tomclip_lib import network, paths
from tomclip_lib.data.corpus import CorpusConfig, build_corpus


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch):
    """An empty TOMCLIP_CACHE for the test."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("TOMCLIP_CACHE", str(cache))
    return cache


@pytest.fixture
def offline(monkeypatch):
    """Every host unreachable, whatever this machine's network."""
    monkeypatch.setattr(network, "is_reachable", lambda *args, **kwargs: False)


@pytest.fixture
def output_dirs(tmp_path, monkeypatch):
    """results/ and figures/ redirected into tmp_path."""
    monkeypatch.setattr(paths, "results_dir", lambda profile: tmp_path / "results" / profile)
    monkeypatch.setattr(paths, "figures_dir", lambda profile: tmp_path / "figures" / profile)
    return tmp_path


@pytest.fixture(scope="session")
def small_corpus():
    return build_corpus(CorpusConfig(max_items=120, low_resource_fraction=0.3))


# Paper-profile fixtures: small files in the real formats (tests/paper_fixtures.py).
@pytest.fixture(scope="session")
def hf_cache(tmp_path_factory):
    """A private Hugging Face datasets cache, so tests never touch the user's."""
    return tmp_path_factory.mktemp("hf-cache")


@pytest.fixture(scope="session")
def mclip_files(tmp_path_factory):
    from paper_fixtures import write_mclip

    return write_mclip(tmp_path_factory.mktemp("mclip"))


@pytest.fixture(scope="session")
def cifar100_root(tmp_path_factory):
    from paper_fixtures import write_cifar100

    return write_cifar100(tmp_path_factory.mktemp("cifar100"))


@pytest.fixture(scope="session")
def xflickrco_files(tmp_path_factory):
    from paper_fixtures import write_xflickrco

    return write_xflickrco(tmp_path_factory.mktemp("xflickrco"))


def pytest_collection_modifyitems(items):
    """The paper profile's notebook chain (tests/test_paper_notebooks.py, the longest file) first: `make
    test`'s two pytest-xdist workers (--dist loadfile, in this order) start it at once and share out the
    other files meanwhile."""
    items.sort(key=lambda item: item.path.name != "test_paper_notebooks.py")
