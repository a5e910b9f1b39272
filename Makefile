# lightning-occ: `make demo` (set-up + the main job) and `make test` (set-up + the test suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install benchmarks clean

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

benchmarks: $(STAMP)
	$(BIN)/pip install --quiet -c constraints.txt deel-torchlip
	$(BIN)/python benchmarks/certified_auroc_speed.py
	$(BIN)/python benchmarks/ocsdf_train_step.py
	$(BIN)/python benchmarks/smoothing_speed.py
	$(BIN)/python benchmarks/odin_grid_speed.py
	$(BIN)/python benchmarks/tabular_accuracy.py

clean:
	rm -rf results lightning_logs .pytest_cache
