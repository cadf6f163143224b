# Every target installs what it needs into .venv, so a fresh clone on a fresh machine works.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench fuzz clean texdeps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

# The LaTeX compile test needs pdflatex and pdftoppm: on Debian, texlive-latex-base (amsmath,
# amssymb, geometry, graphicx) and poppler-utils are enough (about 40 s with apt-get update).
# Installed only when missing and apt-get is usable as root; otherwise that test skips.
texdeps:
	@if ! command -v pdflatex >/dev/null 2>&1 || ! command -v pdftoppm >/dev/null 2>&1; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	      --no-install-recommends texlive-latex-base poppler-utils; \
	  else echo "pdflatex/pdftoppm missing and apt-get unusable: the LaTeX compile test will skip"; fi; \
	fi

demo: $(STAMP)
	$(BIN)/hwsolve backprop problems/cs4782_p1.yaml

# Style and complexity (ruff), types of the modules listed in pyproject's [tool.mypy], and the
# layering contracts (import-linter): all configured in pyproject.toml.
lint: $(STAMP)
	$(BIN)/ruff check hwsolve tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint texdeps
	$(BIN)/python -m pytest -n auto   # every core: the suite's wall time halves on 2
	PY=$(BIN)/python tools/check_package.sh   # wheel + sdist as users get them (docs/packaging.md)

# The long fuzz run: 20,000 mutated inputs across every command, 10 s and 1 GB per input; the
# last line is the counts (see docs/reliability.md). Failing inputs land in tests/fuzz/found/.
fuzz: $(STAMP)
	HWSOLVE_TIME_LIMIT=8 $(BIN)/python tests/fuzz/run_fuzz.py --count 20000 --workers 2 --seed 1

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis
