#!/usr/bin/env bash
# Run every notebook in the smoke profile in a numeric environment of the caller's choosing, in a copy
# of the repository with its own asset cache, and collect the outputs of the cells that nbval checks.
#   scripts/smoke-in-environment.sh NAME OUT     -> OUT/NAME/checked.json (and the executed notebooks)
# The caller sets the environment (`make spread` runs three). The kernel is one with no environment
# of its own (tomclip-bare), so that the caller's settings reach the notebooks.
set -euo pipefail
name=$1; out=$(mkdir -p "$2" && cd "$2" && pwd)/$name
repo=$(cd "$(dirname "$0")/.." && pwd); bin=$repo/.venv/bin
cache=${TOMCLIP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tomclip}
rm -rf "$out"; mkdir -p "$out/cache" "$out/tree"
cp -r "$cache/assets" "$out/cache/"  # converted models only: features are recomputed in this environment
tar -C "$repo" --exclude ./.venv --exclude ./build --exclude ./artifacts --exclude ./.git \
    --exclude ./results/smoke --exclude ./figures/smoke -cf - . | tar -C "$out/tree" -xf -
"$bin/python" -m ipykernel install --sys-prefix --name tomclip-bare --display-name "Python (tomclip, no pinned environment)" >/dev/null
export TOMCLIP_ROOT=$out/tree TOMCLIP_CACHE=$out/cache PYTHONHASHSEED=0
cd "$out"
for source in "$repo"/notebooks/[0-9][0-9]_*.py; do
  notebook=$(basename "$source" .py)
  "$bin/jupytext" --quiet --to ipynb --set-kernel tomclip-bare --output "$notebook.ipynb" "$source"
  "$bin/python" -m tomclip_lib.config smoke "$notebook" > "$notebook.yaml"
  "$bin/papermill" --kernel tomclip-bare --parameters_file "$notebook.yaml" --log-level ERROR --no-progress-bar \
      "$notebook.ipynb" "$notebook.out.ipynb" 2>/dev/null
done
"$bin/python" "$repo/tests/nbval/regress.py" collect "$out/checked.json" "$out"/[0-9][0-9]_*.out.ipynb
echo "smoke profile run in environment $name: $out/checked.json"
