# `make demo` and `make test` work on a brand-new machine: they create .venv, install
# torch 2.13.0 (CPU) first, then the project, then run.
VENV    := .venv
PY      := $(VENV)/bin/python
PIP     := $(PY) -m pip --disable-pip-version-check
STAMP   := $(VENV)/.installed
# Small matmuls on 2 cores: a passive OpenMP wait policy avoids 20x slow-downs under load.
RUNENV  := OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 MPLBACKEND=Agg

.PHONY: demo test lint install bench pretrain tables clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q torch==2.13.0 2>&1 | grep -v "is ignored: it is neither" || true
	$(PY) -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
	$(PIP) install -q -e '.[dev]' 2>&1 | grep -v "is ignored: it is neither" || true
	$(PY) -c "import inn_engine, oximetry, astro"
	touch $(STAMP)

install: $(STAMP)

# The main jobs on embedded examples: an sO2 map of the bundled phantom, posteriors of a small
# star-cluster catalogue. (`python -m inn_engine.demo` is the engine-only toy demo.)
demo: $(STAMP)
	mkdir -p out
	$(RUNENV) $(PY) -m oximetry.demo --figure out/phantom_sO2.png
	$(RUNENV) $(PY) -m astro.demo --out out/astro_demo.png

# Lint and format check (ruff; `$(PY) -m ruff format .` and `ruff check --fix .` repair most findings).
lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test: lint
	$(RUNENV) $(PY) -m pytest -q tests

# Side-by-side benchmarks need the peers (sbi, FrEIA, zuko, sbibm): installed without
# letting pip re-resolve torch.
bench: $(STAMP)
	$(PIP) install -q -e '.[dev,bench]' 2>&1 | grep -v "is ignored: it is neither" || true
	$(PIP) install -q --no-deps sbibm 2>&1 | grep -v "is ignored: it is neither" || true
	$(RUNENV) $(PY) benchmarks/engine.py

# Rebuild the shipped estimators from scratch with the settings recorded in them (grids,
# training, evaluation; hours) into work directories, printing their metrics beside the
# shipped ones. The packaged files are replaced only with `make pretrain INSTALL=1`.
pretrain: $(STAMP)
	$(RUNENV) $(PY) -m oximetry.pretrain $(if $(INSTALL),--install)
	$(RUNENV) $(PY) -m astro.pretrain $(if $(INSTALL),--install)

# Rebuild the committed physical tables from the PyPI packages of the `tables` extra.
tables: $(STAMP)
	$(PIP) install -q -e '.[tables]' 2>&1 | grep -v "is ignored: it is neither" || true
	$(RUNENV) $(PY) -m astro.build_tables

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
