"""Write results/<profile>/findings.md from the result tables (see tomclip_lib.experiment.write_findings)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tomclip_lib.experiment import write_findings  # noqa: E402

print(write_findings(sys.argv[1] if len(sys.argv) > 1 else "embedded"))
