# Shared shell helpers for scripts/*.sh (sourced, not run).
# shellcheck shell=bash

_stage_start=0
_stage_name=""
STAGE_TIMES=${STAGE_TIMES:-}

# stage NAME: print a header and the time the previous stage took.
stage() {
  local now
  now=$(date +%s)
  if [ -n "$_stage_name" ]; then
    printf '  (%s: %ss)\n' "$_stage_name" "$((now - _stage_start))"
  fi
  _stage_name="$1"
  _stage_start=$now
  printf '\n==> %s\n' "$1"
}

# Environment for Ansible, pytest and molecule run from this checkout.
use_project_env() {
  local root=$1
  export PATH="$root/.venv/bin:$PATH"
  export ANSIBLE_COLLECTIONS_PATH="$root/.cache/collections:$root/.venv/lib/python3.11/site-packages"
  export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=true
  export PYTHONPATH="$root/.cache/collections${PYTHONPATH:+:$PYTHONPATH}"
  export ANSIBLE_LOCAL_TEMP="$root/.cache/ansible-tmp"
  export ANSIBLE_HOME="$root/.cache/ansible-home"
  export ANSIBLE_NOCOLOR=1
  export ANSIBLE_FORCE_COLOR=0
  export PY_COLORS=0
  # The test bed reaches its hosts through tests/testbed/connection_plugins.
  export ANSIBLE_CONNECTION_PLUGINS="$root/tests/testbed/connection_plugins"
}

write_get_pip_stub() {
  local cache="$HOME/.ansible/test/cache"
  mkdir -p "$cache"
  local v
  for v in 24.2 24.3.1 25.0.1 25.1.1 25.2 25.3; do
    cat > "$cache/get_pip_${v//./_}.py" <<'PY'
# Stand-in for get-pip.py (written by ocistack.engine's scripts/setup.sh):
# bootstrap pip offline with ensurepip, then install what ansible-test asked for.
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
if args:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", *args])
PY
  done
}
