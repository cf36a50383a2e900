# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench venv browser ldap clean

venv: $(STAMP)

# setuptools tells every editable install, as a warning, that folders named like the
# packages may shadow them; ours are those folders. Only that message is filtered, by
# its first words, so any other warning of the build still shows.
QUIET_EDITABLE := 'ignore:Editable installation'

# trust/ and cli_contexts/ are installed as xsp_trust and xsp_cli_contexts
# (pyproject.toml's package-dir). The editable install maps those names with an import
# hook that mypy cannot follow, so mypy reads the directories through links by those names.
IMPORT_NAMES := $(VENV)/import-names

# Reinstall whenever pyproject.toml changes, so a new dependency is never missed.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	PYTHONWARNINGS=$(QUIET_EDITABLE) $(BIN)/pip install -q -e '.[test]'
	mkdir -p $(IMPORT_NAMES)
	ln -sfn ../../trust $(IMPORT_NAMES)/xsp_trust
	ln -sfn ../../cli_contexts $(IMPORT_NAMES)/xsp_cli_contexts
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/xsp demo --cucm
	$(BIN)/xsp demo

# The live page's browser tests need Chromium and chromedriver from the system's
# packages; the script installs them (as root, with apt-get) only when they are missing.
browser:
	sh tests/install-chromium.sh

# The LDAP login tests start a real OpenLDAP slapd; the script installs it when missing.
ldap:
	sh tests/install-slapd.sh

# pytest exits 5 when it collected nothing; that must fail, and it does, since
# make treats every non-zero status as failure.
test: $(STAMP) browser ldap
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build *.egg-info
