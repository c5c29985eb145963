# The book's entry points. `make book` and `make test` are the README's set-up; each installs
# what it needs into .venv/ first (once: the stamp file records a finished install).
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# A notebook runs only when its cache key changed (book/reproducibility.md); FORCE=1 runs them all.
EXECUTE := $(PY) -m mgn execute $(if $(filter-out 0,$(FORCE)),--force)

.PHONY: install book test smoke lint pytest baselines mutations bench lock clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[book,test]"
	touch $(STAMP)

## The published book: every notebook in the paper's settings, then the HTML in _build/html/.
book: install
	$(EXECUTE) --mode paper
	$(PY) -m mgn build --mode paper
	$(PY) -m pytest -q tests/test_notebook_results.py -k paper

## Every check: lint, the notebooks in smoke mode, the smoke book, then pytest.
test: install lint smoke pytest

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

smoke: install
	$(EXECUTE) --mode smoke
	$(PY) -m mgn build --mode smoke

pytest: install
	$(PY) -m pytest

## Rewrite tests/baselines/smoke/*.json from the last smoke execution (review the diff!).
baselines: install
	$(PY) -m mgn baselines --mode smoke

## Plant each regression of mgn/book/mutation_catalogue.py in a copy of mgn, execute the chapters it
## affects in smoke mode, and report what caught it in _build/mutations.md (about 5 minutes: run it by hand).
## ONLY="name ..." runs some of them.
mutations: install
	$(PY) -m mgn mutations $(if $(ONLY),--only $(ONLY))

bench: install
	for b in benchmarks/*.py; do $(PY) $$b || exit 1; done

## Re-resolve the pinned versions (needs the package registry).
lock:
	python3 -m venv /tmp/mgn-lock && /tmp/mgn-lock/bin/pip install --quiet "torch==2.13.0" -e ".[book,test]"
	( sed -n '1,2p' constraints.txt; /tmp/mgn-lock/bin/pip freeze --exclude-editable | sed 's/^torch @.*/torch==2.13.0/' ) > constraints.txt.new
	mv constraints.txt.new constraints.txt

clean:
	rm -rf _build
