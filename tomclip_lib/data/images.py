"""Images of the embedded profile: Fashion-MNIST (IDX files) and emoji rendered with Noto Color Emoji."""

from __future__ import annotations

import gzip
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import assets, paths
from ..errors import TomclipError
from ..io import atomic_path

FASHION_MNIST_LABELS = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped), the format of MNIST and Fashion-MNIST."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            blob = handle.read()
    except (OSError, EOFError) as error:
        raise TomclipError(f"Cannot read IDX file {path}: {error}. Re-run `make setup`.") from None
    if len(blob) < 4 or blob[0] != 0 or blob[1] != 0 or blob[2] not in _IDX_DTYPES:
        raise TomclipError(f"{path} is not an IDX file (bad magic number).")
    ndim = blob[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(blob[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[blob[2]])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(blob) != expected:
        raise TomclipError(f"{path} holds {len(blob)} bytes, its header promises {expected}: truncated?")
    return np.frombuffer(blob, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def load_fashion_mnist(split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) int64 of the 'train' or 'test' split."""
    prefix = {"train": "train", "test": "t10k"}.get(split)
    if prefix is None:
        raise TomclipError(f"Fashion-MNIST has splits 'train' and 'test', not {split!r}.")
    folder = assets.resolve("fashion-mnist")
    images = read_idx(folder / f"{prefix}-images-idx3-ubyte.gz")
    labels = read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
    if len(images) != len(labels):
        raise TomclipError(f"Fashion-MNIST {split}: {len(images)} images but {len(labels)} labels.")
    return images, labels


def grey_to_rgb(images: np.ndarray, size: int) -> np.ndarray:
    """(N, H, W) grey uint8 -> (N, size, size, 3) uint8, dark garment on white like the emoji."""
    from PIL import Image

    inverted = 255 - images
    out = np.empty((len(images), size, size, 3), dtype=np.uint8)
    for i, image in enumerate(inverted):
        resized = Image.fromarray(image).resize((size, size), Image.BILINEAR)
        out[i] = np.asarray(resized)[..., None]
    return out


@dataclass(frozen=True)
class EmojiInfo:
    emoji: str  # fully qualified, as in emoji-test.txt
    name: str  # English CLDR short name as emoji-test.txt gives it
    group: str
    subgroup: str

    @property
    def key(self) -> str:
        """The code point sequence without variation selectors: how CLDR annotations name it."""
        return self.emoji.replace("\ufe0f", "")


_EMOJI_LINE = re.compile(r"^[0-9A-F ]+;\s*fully-qualified\s*#\s*(\S+)\s+E\d+\.\d+\s+(.+)$")


def load_emoji_test(path: str | Path | None = None) -> list[EmojiInfo]:
    """Every fully-qualified emoji of emoji-test.txt with its group and subgroup, in file order."""
    path = Path(path) if path else assets.asset_file("emoji-test", "emoji-test.txt")
    group = subgroup = None
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# group:"):
            group = line.split(":", 1)[1].strip()
        elif line.startswith("# subgroup:"):
            subgroup = line.split(":", 1)[1].strip()
        elif match := _EMOJI_LINE.match(line):
            entries.append(EmojiInfo(match.group(1), match.group(2), group, subgroup))
    if not entries:
        raise TomclipError(f"No emoji found in {path}: is it Unicode's emoji-test.txt?")
    return entries


_GLYPH_SIZE = 109  # the only size of Noto Color Emoji's bitmaps; Pillow renders no other


def render_emoji(emojis: list[str], size: int) -> np.ndarray:
    """Render emoji as RGB on white, (N, size, size, 3) uint8, cached on disk by content.

    The cache key is the emoji list, the size and the font's SHA-256, so a changed font or list
    renders again and nothing stale is reused.
    """
    font_path = assets.asset_file("noto-color-emoji", "NotoColorEmoji.ttf")
    key = hashlib.sha256("\n".join([assets.file_sha256(font_path), str(size), *emojis]).encode()).hexdigest()[:16]
    cached = paths.cache_dir() / "emoji" / f"noto-{size}px-{key}.npy"
    if cached.exists():
        return np.load(cached)
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(font_path), _GLYPH_SIZE)
    out = np.empty((len(emojis), size, size, 3), dtype=np.uint8)
    for i, emoji in enumerate(emojis):
        left, top, right, bottom = font.getbbox(emoji)
        side = max(right - left, bottom - top)
        canvas = Image.new("RGBA", (side, side), (255, 255, 255, 0))
        offset = ((side - (right - left)) // 2 - left, (side - (bottom - top)) // 2 - top)
        ImageDraw.Draw(canvas).text(offset, emoji, font=font, embedded_color=True)
        white = Image.new("RGBA", canvas.size, (255, 255, 255, 255))
        rgb = Image.alpha_composite(white, canvas).convert("RGB")
        out[i] = np.asarray(rgb.resize((size, size), Image.LANCZOS))
    with atomic_path(cached) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, out)
    return out


def read_images(paths) -> list[np.ndarray]:
    """Image files as RGB uint8 arrays (sizes may differ; the teacher's preprocessing resizes)."""
    from PIL import Image, UnidentifiedImageError

    out = []
    for path in paths:
        try:
            with Image.open(path) as image:
                out.append(np.asarray(image.convert("RGB")))
        except (OSError, UnidentifiedImageError) as error:
            raise TomclipError(f"Cannot read image {path}: {error}") from None
    return out
