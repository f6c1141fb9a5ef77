#!/bin/sh
# Test prerequisites outside Python: Debian's headless Chromium, for the browser check of
# `tipwatch serve` (tests/test_serve.py). Installed only when missing and only as root with
# apt-get; it never fails the build: without Chromium that one test skips and says why.
set -u

if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "test-bootstrap: chromium is missing (install Debian's chromium for the browser test)" >&2
  exit 0
fi

# bounded: a stuck mirror must not hold the test run for ever
limit=""
command -v timeout >/dev/null 2>&1 && limit="timeout 240"
echo "test-bootstrap: installing Debian's chromium for the browser test" >&2
export DEBIAN_FRONTEND=noninteractive
if $limit apt-get update -qq >/dev/null 2>&1 &&
   $limit apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null 2>&1; then
  echo "test-bootstrap: chromium installed" >&2
else
  echo "test-bootstrap: could not install chromium; the browser test will skip" >&2
fi
exit 0
