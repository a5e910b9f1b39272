# lightning-occ: `make demo` (set-up + the main job) and `make test` (set-up + the test suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint docs results install benchmarks clean

$(STAMP): pyproject.toml constraints.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	@echo "== Training OCSDF on breast cancer (benign = normal); results in results/ocsdf_breast_cancer =="
	$(BIN)/lightning-occ fit --config configs/ocsdf/breast_cancer.yaml
	$(BIN)/lightning-occ test --config configs/ocsdf/breast_cancer.yaml \
		--ckpt_path results/ocsdf_breast_cancer/checkpoints/best.ckpt

test: $(STAMP)
	$(BIN)/python -m pytest -q lightning_occ tests

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" lightning_occ tests

lint: $(STAMP)
	$(BIN)/ruff check lightning_occ tests benchmarks zoo examples docs
	$(BIN)/ruff format --check lightning_occ tests benchmarks zoo examples docs
	$(BIN)/python docs/generate.py --check
	$(BIN)/mypy lightning_occ

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

results: demo
	cp results/ocsdf_breast_cancer/report/results.json benchmarks/results/demo_breast_cancer.json
	$(BIN)/python docs/generate.py

benchmarks: $(STAMP)
	$(BIN)/pip install --quiet -c constraints.txt deel-torchlip
	$(BIN)/python benchmarks/certified_auroc_speed.py
	$(BIN)/python benchmarks/ocsdf_train_step.py
	$(BIN)/python benchmarks/smoothing_speed.py
	$(BIN)/python benchmarks/odin_grid_speed.py
	$(BIN)/python benchmarks/tabular_accuracy.py

clean:
	rm -rf results lightning_logs .pytest_cache
