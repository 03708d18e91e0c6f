#!/usr/bin/env bash
# Install the Debian packages tomclip uses when this machine can (root, apt-get): the data packages of
# the embedded profile, and Debian's chromium for the tests that look at pages in a real browser
# (tests/test_site.py, tests/test_lab.py; about 25 packages, a minute at most, no recommends).
# Elsewhere tomclip fetches the data packages' files from the Debian mirror into its cache (checksums
# verified) when online, or stops with a message naming what is missing and the remedy.
set -euo pipefail
data=(dataset-fashion-mnist fonts-noto-color-emoji unicode-cldr-core unicode-data fonts-noto-cjk wordnet-base)
tools=(chromium)

missing=()
for package in "${data[@]}" "${tools[@]}"; do
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
       "tomclip will fetch the data packages' files from deb.debian.org into its cache if it can;" \
       "the browser tests need Chromium (Debian's chromium, or TOMCLIP_CHROMIUM=/path/to/chromium)." >&2
fi
