#!/usr/bin/env bash
# The docs site (`make docs`, and the `docs` stage of scripts/test.sh): HTML built with antsibull-docs
# and Sphinx from the collection itself, into .cache/docs/html (open .cache/docs/html/index.html).
#   - a page per module, filter and role (antsibull-docs; roles from meta/argument_specs.yml),
#   - a page per playbook (scripts/docs_playbooks.py, from the playbooks' own comments and plays),
#   - README.md as the landing page (docs/site/index.rst includes it when Sphinx runs).
# Fails on any antsibull-docs lint finding, any Sphinx warning, and a missing page.
# The build runs offline: docs/site/conf.py uses no intersphinx.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
use_project_env "$ROOT"

OUT="$ROOT/.cache/docs"
SRC="$OUT/src" # docs/site/index.rst includes ../../../README.md: it must stay three levels down.
HTML="$OUT/html"
COLLECTION=ocistack.engine
t0=$(date +%s)
t_phase=$t0
# phase NAME: print NAME, and how long the previous phase took.
phase() {
  local now
  now=$(date +%s)
  [ "$now" -eq "$t0" ] || echo "   ($((now - t_phase))s)"
  t_phase=$now
  echo "-- $1"
}

phase "antsibull-docs lint-collection-docs"
antsibull-docs lint-collection-docs --plugin-docs .

phase "antsibull-docs collection -> $SRC"
rm -rf "$SRC" "$HTML"
mkdir -p "$OUT"
mkdir -m 0755 "$SRC" # antsibull-docs refuses a destination others can write to
antsibull-docs --config-file docs/site/antsibull-docs.cfg collection --fail-on-error --cleanup everything \
  --use-current --dest-dir "$SRC" "$COLLECTION"
cp docs/site/index.rst "$SRC/index.rst"
python3 scripts/docs_playbooks.py playbooks "$SRC/playbooks"

phase "sphinx-build -> $HTML"
# -W: every warning fails the build (nitpicky: an unresolved reference too); -n -E: no cached state.
sphinx-build -b html -c docs/site -W --keep-going -n -E -q "$SRC" "$HTML"

phase "a page for every module, filter, role and playbook"
pages="$HTML/collections/ocistack/engine"
expected=()
for f in plugins/modules/*.py; do
  [ "$(basename "$f")" = __init__.py ] || expected+=("$pages/$(basename "$f" .py)_module.html")
done
# A filter file may hold several filters; antsibull-docs gives each filter name its page.
while read -r name; do
  expected+=("$pages/${name}_filter.html")
done < <(python3 - <<'PY'
import importlib
import pathlib

for path in sorted(pathlib.Path("plugins/filter").glob("*.py")):
    if path.name == "__init__.py":
        continue
    mod = importlib.import_module(f"ansible_collections.ocistack.engine.plugins.filter.{path.stem}")
    for name in sorted(mod.FilterModule().filters()):
        print(name)
PY
)
for d in roles/*/; do
  expected+=("$pages/$(basename "$d")_role.html")
done
for f in playbooks/*.yml; do
  expected+=("$HTML/playbooks/$(basename "$f" .yml).html")
done
expected+=("$HTML/index.html")
missing=0
for page in "${expected[@]}"; do
  if [ ! -s "$page" ]; then
    echo "missing page: ${page#"$ROOT"/}" >&2
    missing=$((missing + 1))
  fi
done
# The landing page is the README: its first heading must be there.
readme_title=$(sed -n 's/^# //p' README.md | head -1)
if ! grep -q "<h1>$readme_title" "$HTML/index.html"; then
  echo "the landing page does not show README.md (no <h1>$readme_title)" >&2
  missing=$((missing + 1))
fi
[ "$missing" -eq 0 ] || {
  echo "$missing page(s) missing" >&2
  exit 1
}
echo "${#expected[@]} pages checked; site built in $(($(date +%s) - t0))s: $HTML/index.html"
