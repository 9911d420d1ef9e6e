PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo lint test bench clean

$(BIN)/interplay: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(BIN)/interplay

install: $(BIN)/interplay

demo: install
	$(BIN)/interplay demo

# ruff (rules and reasons in pyproject.toml) and mypy over src/interplay; `make test` runs it first.
lint: install
	@$(BIN)/ruff check src tests bench || { echo "ruff: fix the above (run 'make lint' locally; '$(BIN)/ruff check --fix' fixes many)"; exit 1; }
	@$(BIN)/mypy || { echo "mypy: fix the above (run 'make lint' locally)"; exit 1; }

test: install lint
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
