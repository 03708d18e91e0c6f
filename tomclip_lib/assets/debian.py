"""Fetch the files of a Debian data package without apt: download the .deb, check it, unpack.

Used where the packages cannot be installed (no root, no apt-get, not Debian) but the Debian
mirror is reachable. The .deb is verified against the SHA-256 that Debian's index lists for the
pinned version, and each extracted file against its own recorded SHA-256.
"""

from __future__ import annotations

import hashlib
import io
import lzma
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..errors import TomclipError

MIRROR = "https://deb.debian.org/debian/"


@dataclass(frozen=True)
class DebianPackage:
    name: str
    version: str
    pool_path: str  # relative to the mirror root, as in Debian's Packages index
    sha256: str

    @property
    def url(self) -> str:
        return MIRROR + self.pool_path


def sha256_of(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _ar_members(blob: bytes) -> dict[str, bytes]:
    """The members of a Unix `ar` archive (the container format of a .deb)."""
    if not blob.startswith(b"!<arch>\n"):
        raise TomclipError("The downloaded file is not a Debian package (no ar header).")
    members, offset = {}, 8
    while offset + 60 <= len(blob):
        header = blob[offset : offset + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        members[name] = blob[offset + 60 : offset + 60 + size]
        offset += 60 + size + (size % 2)
    return members


def download(package: DebianPackage, timeout: float = 60.0) -> bytes:
    """The .deb's bytes, verified against the pinned SHA-256."""
    try:
        with urllib.request.urlopen(package.url, timeout=timeout) as response:
            blob = response.read()
    except OSError as error:
        raise TomclipError(
            f"Could not download {package.name} {package.version} from {package.url}: {error}. "
            f"Install it with `apt-get install {package.name}` or connect to the internet."
        ) from None
    digest = hashlib.sha256(blob).hexdigest()
    if digest != package.sha256:
        raise TomclipError(
            f"{package.url} has SHA-256 {digest}, expected {package.sha256}: the mirror serves a "
            f"different file. Install the package with apt-get instead."
        )
    return blob


def extract(blob: bytes, members: dict[str, str], destination: Path) -> None:
    """Write the wanted files of a .deb into `destination`, flat, checking each file's SHA-256.

    `members` maps the path inside the package (e.g. "usr/share/unicode/emoji/emoji-test.txt")
    to its expected SHA-256; files land as destination/<basename>.
    """
    archive = _ar_members(blob)
    data_name = next((n for n in archive if n.startswith("data.tar")), None)
    if data_name is None:
        raise TomclipError("The Debian package has no data.tar member.")
    payload = archive[data_name]
    if data_name.endswith(".xz"):
        payload = lzma.decompress(payload)
    elif not data_name.endswith((".tar", ".gz")):
        raise TomclipError(f"Unsupported Debian payload {data_name}; install the package with apt-get.")
    wanted = {f"./{name}": (name, digest) for name, digest in members.items()}
    found = set()
    with tarfile.open(fileobj=io.BytesIO(payload), mode="r:*") as tar:
        for info in tar:
            if info.name in wanted and info.isfile():
                name, digest = wanted[info.name]
                data = tar.extractfile(info).read()
                if hashlib.sha256(data).hexdigest() != digest:
                    raise TomclipError(f"{name} inside the Debian package has an unexpected SHA-256.")
                (destination / Path(name).name).write_bytes(data)
                found.add(info.name)
    missing = sorted(set(wanted) - found)
    if missing:
        raise TomclipError(f"The Debian package lacks the expected files {missing}.")
