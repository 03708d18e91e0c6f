"""Refresh the generated blocks of README.md, RESULTS.md and docs/*.md from the files that code wrote.

A block is delimited by `<!-- include: PATH -->` and `<!-- end include -->`; everything between
is replaced by the contents of PATH (relative to the repository root, whichever file the block is
in). Run through `make readme`. Numbers in the documentation thus come from runs, never from typing.

RESULTS.md promises every table of results/embedded/: a table that it neither includes nor links
is reported, so a new table does not go missing from it.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"(<!-- include: (?P<path>\S+) -->\n)(?P<body>.*?)(<!-- end include -->)", re.S)


def documents(root: Path = ROOT) -> list[Path]:
    """The files whose blocks `make readme` refreshes."""
    return [root / "README.md", root / "RESULTS.md", *sorted((root / "docs").glob("*.md"))]


def refresh(text: str, root: Path = ROOT) -> tuple[str, list[str]]:
    missing = []

    def replace(match: re.Match) -> str:
        source = root / match["path"]
        if not source.is_file():
            missing.append(match["path"])
            return match.group(0)
        return match.group(1) + source.read_text(encoding="utf-8").rstrip("\n") + "\n" + match.group(4)

    return BLOCK.sub(replace, text), missing


def unlisted_tables(results_text: str, profile: str = "embedded", root: Path = ROOT) -> list[str]:
    """Tables of results/<profile>/ that RESULTS.md neither includes nor links (by .md or .csv)."""
    return [
        path.relative_to(root).as_posix()
        for path in sorted((root / "results" / profile).glob("*.md"))
        if path.relative_to(root).as_posix() not in results_text
        and path.with_suffix(".csv").relative_to(root).as_posix() not in results_text
    ]


def main() -> int:
    for document in documents():
        if not document.is_file():
            continue
        before = document.read_text(encoding="utf-8")
        text, missing = refresh(before)
        if text != before:
            document.write_text(text, encoding="utf-8")
            print(f"refreshed {document.relative_to(ROOT)}")
        for path in missing:
            print(
                f"warning: {path} does not exist yet; its block in {document.relative_to(ROOT)} was left as it was",
                file=sys.stderr,
            )
    results = ROOT / "RESULTS.md"
    if results.is_file():
        for path in unlisted_tables(results.read_text(encoding="utf-8")):
            print(f"warning: {path} is neither included nor linked in RESULTS.md; add it there", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
