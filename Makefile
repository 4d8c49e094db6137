# Quick start: `make run` (set-up + the main job), `make test` (set-up + the whole suite).
# Both are idempotent: set-up is skipped when the venv is current and the data is present.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stamp-deps
DATA_DIR ?= /usr/share/datasets/fashion-mnist

.PHONY: setup data run test bench docs clean

setup: $(STAMP) data

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

# The data comes from Debian's dataset-fashion-mnist package when apt is usable;
# otherwise point GANRATOR_DATA (or --data-dir) at the four IDX files (see README).
data:
	@if [ -n "$$GANRATOR_DATA" ] || [ -f $(DATA_DIR)/train-images-idx3-ubyte.gz ]; then \
		echo "data: Fashion-MNIST present"; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		echo "data: installing dataset-fashion-mnist with apt-get"; \
		(apt-get install -y -qq dataset-fashion-mnist || \
		 (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist)) >/dev/null; \
	else \
		echo "data: Fashion-MNIST not found and apt-get is not usable as root;"; \
		echo "      run 'sudo apt-get install dataset-fashion-mnist' or set GANRATOR_DATA (see README)"; \
		exit 1; \
	fi

# The main job: the headline study on the laptop budget, the confirmation of its scientific parameters' values
# (on by default for this budget), its 2 best configurations retrained over 3 seeds and tested, then the
# experiments report. Run again, it resumes the same study (or just reports a finished one).
STUDY_DB := runs/cnn_aug/trials.db
run: setup
	$(BIN)/python tuning/run.py --space cnn_aug --budget laptop --final-eval 2 $$([ -f $(STUDY_DB) ] && echo --resume)
	$(BIN)/python -m analysis report --db $(STUDY_DB) --out reports/cnn_aug

test: setup
	GANRATOR_REQUIRE_DATA=1 $(BIN)/python -m pytest -q tests

# The cross-study write-up, from the databases of the runs it lists (docs/experiments.md says how each was made).
DOC_STUDIES := cnn_aug cnn_aug_qmc classical classical_svm scaling
docs: setup
	$(BIN)/python -m analysis docs $(foreach s,$(DOC_STUDIES),--db runs/$(s)/trials.db) \
		--system-db runs/bench/scaling/scale1/trials.db --system-db runs/bench/scaling/scale2/trials.db --out docs

bench: setup
	$(BIN)/python benchmarks/throughput.py

clean:
	rm -rf $(VENV) runs reports
