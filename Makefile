# Both targets bootstrap .venv/ on a fresh machine (only Python 3.11+ needed).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint install bench clean extension

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/livefeed serve --demo $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(ARGS)

# ruff: the lint rules and the format in pyproject.toml (`make lint ARGS=--fix` repairs what it
# can); mypy: the type check over all of src/livefeed (justified ignores are commented in place).
lint: $(STAMP)
	$(BIN)/ruff check $(ARGS) src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

# The browser extension (Gmail button and toolbar), packed for "Load unpacked" or the Web Store.
extension:
	@mkdir -p dist
	@rm -f dist/livefeed-extension.zip
	cd extension && $(PYTHON) -c "import sys, zipfile, pathlib; z = zipfile.ZipFile('../dist/livefeed-extension.zip', 'w', zipfile.ZIP_DEFLATED); [z.write(p, p.name) for p in sorted(pathlib.Path('.').iterdir()) if p.is_file()]; z.close()"
	@echo "dist/livefeed-extension.zip"

clean:
	rm -rf $(VENV) var .pytest_cache
