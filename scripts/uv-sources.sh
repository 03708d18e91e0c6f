#!/usr/bin/env bash
# Print, one per line, the uv options that name the package indexes and wheel folders pip is set up
# with here (pip.conf, PIP_* variables: `pip config list`). uv does not read pip's configuration;
# with these options both resolve against the same files.
#     scripts/uv-sources.sh PYTHON
set -euo pipefail
while IFS= read -r setting; do  # lines such as global.extra-index-url='file:///a file:///b'
  name=${setting%%=*}; name=${name##*.}
  values=${setting#*=}; values=${values#\'}; values=${values%\'}
  case $name in
    index-url | extra-index-url | find-links)
      for value in $values; do printf -- '--%s\n%s\n' "$name" "$value"; done ;;
  esac
done < <("$1" -m pip config list --disable-pip-version-check 2>/dev/null)
# unsafe-best-match: take a pinned version from whichever index has it, as pip does.
printf -- '--index-strategy\nunsafe-best-match\n'
