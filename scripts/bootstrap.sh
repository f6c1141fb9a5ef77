#!/bin/sh
# Create .venv and install tipwatch with its test and lint tools. Needs only python3; on Debian,
# where `python3 -m venv` needs the python3-venv package, it installs it when run as root.
set -eu
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}

if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "tipwatch needs Python 3.11 or newer; $PY is $("$PY" --version 2>&1)" >&2
  exit 1
fi

make_venv() { "$PY" -m venv "$VENV" >/dev/null 2>&1 && [ -x "$VENV/bin/pip" ]; }

if ! make_venv; then
  rm -rf "$VENV"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "python3 -m venv is not available: installing Debian's python3-venv" >&2
    ver=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    apt-get update -qq
    apt-get install -y -qq "python${ver}-venv" >/dev/null 2>&1 || apt-get install -y -qq python3-venv >/dev/null
    make_venv || { echo "could not create $VENV even with python3-venv installed" >&2; exit 1; }
  else
    echo "python3 -m venv failed: install your system's venv package (Debian: sudo apt-get install python3-venv)" >&2
    exit 1
  fi
fi

"$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
"$VENV/bin/python" -m pip install -q -e '.[test,lint]'
