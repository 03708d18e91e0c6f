#!/usr/bin/env bash
# Install tomclip with its companion extra (the notebooks' packages), at the exact versions of
# requirements.lock, into the virtualenv VENV, with uv.
#     scripts/install-venv.sh VENV
# Why uv: the lock is about 190 wheels and 7 GB installed (torch's CUDA libraries among them); uv
# unpacks them in parallel, in about half a minute on 2 cores, where pip takes five. uv itself is
# pinned in the lock too, and finds the same files pip would (scripts/uv-sources.sh).
# --compile-bytecode: uv, unlike pip, installs no .pyc files, and where PYTHONDONTWRITEBYTECODE is
# set (as on this project's machines) Python never writes them either: then every process compiles
# torch, transformers and the rest from source again, 10 to 20 s of CPU each, some thirty times in
# `make test`. Compiling once here costs about 40 s.
set -euo pipefail
venv=$1
python=$venv/bin/python
"$python" -m pip install --quiet --disable-pip-version-check -c requirements.lock uv
mapfile -t sources < <(scripts/uv-sources.sh "$python")
"$venv/bin/uv" pip install --quiet --python "$python" "${sources[@]}" -c requirements.lock --compile-bytecode \
    -e '.[companion]'
