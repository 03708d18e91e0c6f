"""Write results/<profile>/findings.md and headline.md (the README's headline) from the result tables
(tomclip_lib.stages.findings.write_findings), and print them.

    python scripts/findings.py embedded
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tomclip_lib import paths  # noqa: E402
from tomclip_lib.stages.findings import write_findings  # noqa: E402

if __name__ == "__main__":
    profile = sys.argv[1] if len(sys.argv) > 1 else "embedded"
    print(write_findings(profile))
    headline = paths.results_dir(profile) / "headline.md"
    print(
        headline.read_text(encoding="utf-8")
        if headline.exists()
        else f"no headline for profile {profile}: run notebook 04_evaluate first"
    )
