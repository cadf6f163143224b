#!/usr/bin/env bash
# The package as a user gets it: build the sdist and the wheel (the wheel from the sdist, as
# `python -m build` does), `twine check` both, install the wheel into a clean venv in a temporary
# folder, run every `hwsolve ...` command of README.md from there (outside the clone), and run
# the sdist's own package and CLI tests. Called by `make test`: about 40 s (the first run
# also fills .venv/wheelhouse: about 40 s more).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

"$PY" -m build --outdir "$TMP/dist" . >"$TMP/build.log" 2>&1 || { cat "$TMP/build.log"; exit 1; }
"$PY" -m twine check --strict "$TMP"/dist/*
WHEEL=$(ls "$TMP"/dist/*.whl)
SDIST=$(ls "$TMP"/dist/*.tar.gz)
"$PY" -m zipfile -l "$WHEEL" >"$TMP/wheel.txt"
tar tzf "$SDIST" >"$TMP/sdist.txt"
for f in hwsolve/problems/cs4782_p1.yaml hwsolve/schemas/solution.json hwsolve/templates/network.yaml; do
  grep -q "^$f " "$TMP/wheel.txt" || { echo "the wheel lacks $f"; exit 1; }
done
for f in tests/conftest.py tests/data/seed001_answers.yaml problems/cs4782_p1.yaml setup.py; do
  grep -q "/$f\$" "$TMP/sdist.txt" || { echo "the sdist lacks $f"; exit 1; }
done

# a clean venv with the wheel and what its metadata asks for, resolved by pip from a wheelhouse
# kept in .venv (filled on the first run, from the same index as `pip install`; later runs are
# offline and take seconds instead of ~40)
HOUSE=.venv/wheelhouse
"$PY" -m pip wheel -q --wheel-dir "$HOUSE" "$WHEEL" 2>&1 | grep -v '^WARNING: Location' || true
"$PY" -m venv "$TMP/venv"
"$TMP/venv/bin/python" -m pip install -q --no-index --find-links "$HOUSE" "$WHEEL"
"$TMP/venv/bin/python" -m pip check
"$TMP/venv/bin/hwsolve" --version >/dev/null

# README's commands, from a folder that is not the clone; the grade examples' answer files are
# what a user would have beside them
RUN="$TMP/run"
mkdir -p "$RUN/tests" "$RUN/submissions"
cp -r tests/data "$RUN/tests/data"
cp tests/data/seed001_answers.yaml tests/data/grade_p1_perfect.yaml "$RUN/submissions/"
"$PY" tools/readme_commands.py README.md >"$TMP/commands"
[ -s "$TMP/commands" ] || { echo "no hwsolve commands found in README.md"; exit 1; }
n=0
while IFS= read -r cmd; do
  if ! (cd "$RUN" && PATH="$TMP/venv/bin:$PATH" bash -c "$cmd" >"$TMP/out" 2>&1); then
    echo "README command failed from a clean install: $cmd"; cat "$TMP/out"; exit 1
  fi
  n=$((n + 1))
done <"$TMP/commands"

# the sdist's tests run from the unpacked sdist, on its own source (the test tools come from
# .venv; the sdist's package and CLI tests here, the whole suite runs from the clone)
mkdir "$TMP/sdist"
tar xzf "$SDIST" -C "$TMP/sdist"
(cd "$TMP"/sdist/hwsolve-* && "$OLDPWD/$PY" -c "import hwsolve, os; assert os.getcwd() in hwsolve.__file__" \
  && "$OLDPWD/$PY" -m pytest -q -p no:cacheprovider -x tests/test_package.py tests/test_cli.py 2>&1 | tail -n 2)
echo "package check: wheel and sdist built, twine check passed, $n README commands ran from a clean venv"
