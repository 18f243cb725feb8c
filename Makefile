# One command for each job (see README):
#   make book   set up .venv (first time) and build the book on the smoke profile -> _build/html
#   make test   set up .venv (first time) and run the test suite (unit tests + doctests)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.xlser-installed

.PHONY: setup book test site-check lint freeze notebooks student clean

setup: $(STAMP)

$(STAMP): requirements.txt .ci/constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -c .ci/constraints.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

book: $(STAMP)
	XLSER_PROFILE=$${XLSER_PROFILE:-smoke} $(BIN)/jupyter-book build . --keep-going

# pytest exits 5 when it collected nothing; that is not a failure of the suite.
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS) || test $$? -eq 5

# Browser check of the built book (after `make book`): every page in headless Chromium (Debian's
# `chromium`); screenshots of key pages -> _build/screenshots/
site-check: $(STAMP)
	XLSER_SITE_CHECK=1 $(BIN)/python -m pytest tests/test_site.py -q

# Chapters as .ipynb (for Jupyter/Colab users and teachers), without outputs -> _build/notebooks/
notebooks: $(STAMP)
	mkdir -p _build/notebooks
	for f in book/[0-9]*.md; do $(BIN)/jupytext --to ipynb "$$f" -o "_build/notebooks/$$(basename "$${f%.md}").ipynb"; done

# The student edition: every chapter as .ipynb without outputs and with its solution boxes removed,
# plus a README of what was removed -> _build/student/ (book/_ext/student.py)
student: $(STAMP)
	$(BIN)/python book/_ext/student.py --out _build/student book/[0-9]*.md

lint: $(STAMP)
	$(BIN)/ruff check xlser tests bench
	$(BIN)/ruff format --check xlser tests bench

freeze: $(STAMP)
	{ echo "# Frozen resolved set (pip freeze), used as constraints by 'make setup'."; \
	  echo "# Regenerate with: make freeze"; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^xlser'; } > .ci/constraints.txt

clean:
	rm -rf _build
