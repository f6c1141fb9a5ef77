#!/bin/sh
# Test prerequisites outside Python, from Debian: headless Chromium, for the browser check of
# `tipwatch serve` (tests/test_serve.py), and redis-server, for the tests of distributed mode
# (tests/test_distributed.py, which start their own server on loopback). Installed only when
# missing and only as root with apt-get; it never fails the build: without one of them, the
# tests that need it skip and say why.
set -u

packages=""
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  packages="chromium fonts-dejavu-core"
fi
if ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/bin/redis-server ]; then
  packages="$packages redis-server"
fi
if [ -z "$packages" ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "test-bootstrap: missing $packages (install Debian's packages for the browser and Redis tests)" >&2
  exit 0
fi

# bounded: a stuck mirror must not hold the test run for ever
limit=""
command -v timeout >/dev/null 2>&1 && limit="timeout 240"
echo "test-bootstrap: installing Debian's $packages for the tests" >&2
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086  # the package list is meant to split
if $limit apt-get update -qq >/dev/null 2>&1 &&
   $limit apt-get install -y -qq --no-install-recommends $packages >/dev/null 2>&1; then
  echo "test-bootstrap: $packages installed" >&2
else
  echo "test-bootstrap: could not install $packages; the tests that need them will skip" >&2
fi
exit 0
