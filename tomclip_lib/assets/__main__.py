"""`python -m tomclip_lib.assets prepare`: resolve, build and verify every asset; say where each lives."""

import sys

from ..errors import TomclipError
from . import ASSETS, prepare_all


def main(argv: list[str]) -> int:
    if argv != ["prepare"]:
        print("usage: python -m tomclip_lib.assets prepare", file=sys.stderr)
        return 2
    try:
        records = prepare_all()
    except TomclipError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    width = max(len(i) for i in ASSETS)
    for record in records:
        print(f"{record['identity']:<{width}}  {record['folder']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
