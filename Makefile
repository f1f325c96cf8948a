# The two commands of the README: `make demo` and `make test`. Both install what is missing
# (apt packages, .venv from pyproject.toml) and skip what is present, so they also run offline.
export XDG_RUNTIME_DIR ?= /tmp/runtime-$(shell id -u)
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH))
PY = $$(cat build/python)
PYTEST_ARGS ?=

.PHONY: demo test docs bench bench-quick soak lint deps

deps:
	@scripts/deps.sh test

demo: deps
	@scripts/demo.sh

test: deps
	$(PY) -m pytest -q $(PYTEST_ARGS)

# The documentation site (Sphinx, furo, MyST) into build/docs/html; any warning fails it.
docs:
	@scripts/deps.sh docs
	$(PY) -m sphinx -b html -n -W --keep-going -E -d build/docs/doctrees docs build/docs/html
	@echo "docs: build/docs/html/index.html"

bench:
	@scripts/deps.sh bench
	$(PY) -m bench

bench-quick: deps
	$(PY) -m bench --quick

soak: deps
	ENGINE_SOAK=1 $(PY) -m pytest -q -s tests/test_state_machine.py tests/test_soak.py tests/test_render_window.py $(PYTEST_ARGS)

lint: deps
	$(PY) -m ruff check . && $(PY) -m mypy engine components systems games
