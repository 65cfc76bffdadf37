#!/usr/bin/env bash
# The system packages `npm test` needs besides Node and npm, installed when missing. Run by
# `npm test` (its pretest step) and by .ci/run; does nothing when all are there.
#   chromium (/usr/bin/chromium): test/browser.test.ts drives the login and consent pages in it
#     through playwright-core, which downloads no browser;
#   python3-requests-oauthlib, python3-authlib, python3-oauthlib: the interop tests run the Python
#     clients users know with the system interpreter, /usr/bin/python3;
#   curl: test/readme.test.ts runs the README's curl walkthrough.
# Missing Debian packages are installed with apt-get when that is possible (as root, or through
# sudo -n); otherwise one line names them and the command to install them, and the step fails.
set -euo pipefail

missing() {
  local packages=()
  [[ -x /usr/bin/chromium ]] || packages+=(chromium)
  local module package
  for module in requests_oauthlib:python3-requests-oauthlib authlib:python3-authlib oauthlib:python3-oauthlib; do
    package=${module#*:}
    /usr/bin/python3 -c "import ${module%%:*}" 2>/dev/null || packages+=("$package")
  done
  command -v curl >/dev/null || packages+=(curl)
  echo "${packages[*]}"
}

packages=$(missing)
[[ -z $packages ]] && exit 0

as_root=()
if [[ $(id -u) -ne 0 ]]; then
  # sudo resets the environment: pass DEBIAN_FRONTEND through env.
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then as_root=(sudo -n env DEBIAN_FRONTEND=noninteractive); else as_root=(none); fi
fi
if command -v apt-get >/dev/null && [[ ${as_root[*]-} != none ]]; then
  echo "system-deps: installing $packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Another apt run (or a second checkout's tests) may hold the lock: wait for it.
  apt=("${as_root[@]}" apt-get -qq -o DPkg::Lock::Timeout=300)
  # shellcheck disable=SC2086 # $packages is a list of package names
  if "${apt[@]}" update >/dev/null && "${apt[@]}" install -y --no-install-recommends $packages >/dev/null; then
    packages=$(missing)
    [[ -z $packages ]] && exit 0
  fi
fi
echo "system-deps: npm test needs the Debian packages $packages (browser, Python interop and curl tests); install them with: sudo apt-get install -y --no-install-recommends $packages" >&2
exit 1
