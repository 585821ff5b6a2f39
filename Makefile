# The README's two commands. Each creates the virtual environment on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint

$(BIN)/shopbridge: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/shopbridge

demo: $(BIN)/shopbridge
	$(BIN)/shopbridge demo

# The storefront tests run the shops' own PHP. Where PHP (with mysqli) is missing and this
# user may install Debian packages (root with apt-get), the test command installs it once;
# elsewhere those tests skip and say why.
PHP_PACKAGES := php-cli php-mysql php-xml php-mbstring php-intl php-gd php-curl php-zip

$(VENV)/.php-checked: | $(BIN)/shopbridge
	@if php -m 2>/dev/null | grep -qi '^mysqli$$'; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing PHP for the storefront tests: apt-get install $(PHP_PACKAGES)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q $(PHP_PACKAGES) >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $(PHP_PACKAGES) >/dev/null 2>&1; } || \
	  echo "PHP could not be installed: the storefront tests will skip (rm $@ to try again)"; \
	else echo "PHP with mysqli is absent ($(PHP_PACKAGES)): the storefront tests will skip"; fi
	@touch $@

test: $(BIN)/shopbridge $(VENV)/.php-checked
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/mypy bench/*.py
	$(BIN)/lint-imports
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(BIN)/shopbridge
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/mypy bench/*.py
	$(BIN)/lint-imports
