"""Refresh the generated blocks of README.md from the files that code wrote.

A block is delimited by `<!-- include: PATH -->` and `<!-- end include -->`; everything between
is replaced by the contents of PATH (relative to the repository root). Run through `make readme`.
Numbers in the README thus come from runs, never from typing.
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"(<!-- include: (?P<path>\S+) -->\n)(?P<body>.*?)(<!-- end include -->)", re.S)


def refresh(text: str) -> tuple[str, list[str]]:
    missing = []

    def replace(match: re.Match) -> str:
        source = ROOT / match["path"]
        if not source.is_file():
            missing.append(match["path"])
            return match.group(0)
        return match.group(1) + source.read_text(encoding="utf-8").rstrip("\n") + "\n" + match.group(4)

    return BLOCK.sub(replace, text), missing


def main() -> int:
    readme = ROOT / "README.md"
    text, missing = refresh(readme.read_text(encoding="utf-8"))
    readme.write_text(text, encoding="utf-8")
    for path in missing:
        print(f"warning: {path} does not exist yet; its README block was left as it was", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
