#!/usr/bin/env bash
# Install the Debian data packages of the embedded profile when this machine can (root, apt-get).
# Elsewhere tomclip fetches the same files from the Debian mirror into its cache (checksums
# verified) when online, or stops with a message naming what is missing and the remedy.
set -euo pipefail
packages=(dataset-fashion-mnist fonts-noto-color-emoji unicode-cldr-core unicode-data fonts-noto-cjk)

missing=()
for package in "${packages[@]}"; do
  if ! command -v dpkg-query >/dev/null ||
     ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if command -v apt-get >/dev/null && [ "$(id -u)" -eq 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${missing[@]}" ||
    { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; }
else
  echo "note: not installing ${missing[*]} (needs root and apt-get);" \
       "tomclip will fetch their files from deb.debian.org into its cache if it can." >&2
fi
