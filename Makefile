# Quick start: `make run` (set-up + the main job), `make test` (set-up + the whole suite).
# Both are idempotent: set-up is skipped when the venv is current and the data is present.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stamp-deps
DATA_DIR ?= /usr/share/datasets/fashion-mnist

.PHONY: setup data browser latex run study headline scaling aug_size aug_size_shared test test-fp32 bench docs clean

setup: $(STAMP) data

# pip compiles every installed module to bytecode on one core (40 s of a 100-s set-up on a 2-core CPU); compileall
# does the same on every core. -x: a torch test helper in Python 3.12 syntax, which pip skips too.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-compile -e '.[test,dashboard]'
	$(BIN)/python -m compileall -q -j 0 -x 'py312_intrinsics' $$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))') >/dev/null
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

# Headless Chromium and its driver, for the test that opens the HTML report in a browser; from Debian's packages
# when apt is usable (never a browser download). Without them that test skips and says why.
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then \
		true; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		echo "browser: installing chromium and chromium-driver with apt-get"; \
		(apt-get install -y -qq chromium chromium-driver || \
		 (apt-get update -qq && apt-get install -y -qq chromium chromium-driver)) >/dev/null 2>&1 || \
		echo "browser: apt-get could not install chromium/chromium-driver; the browser test will skip"; \
	else \
		echo "browser: chromium/chromium-driver not installed and apt-get is not usable as root; the browser test will skip"; \
	fi

# pdflatex and poppler's pdftotext/pdfinfo, for the test that compiles the write-up's LaTeX and reads the PDF back,
# and for docs/experiments.pdf; from Debian's packages when apt is usable. Without them that test skips and says why.
LATEX_PACKAGES := texlive-latex-base texlive-latex-recommended texlive-fonts-recommended poppler-utils
latex:
	@if command -v pdflatex >/dev/null && command -v pdftotext >/dev/null && command -v pdfinfo >/dev/null; then \
		true; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		echo "latex: installing $(LATEX_PACKAGES) with apt-get"; \
		(apt-get install -y -qq --no-install-recommends $(LATEX_PACKAGES) || \
		 (apt-get update -qq && apt-get install -y -qq --no-install-recommends $(LATEX_PACKAGES))) >/dev/null 2>&1 || \
		echo "latex: apt-get could not install $(LATEX_PACKAGES); the LaTeX test will skip"; \
	else \
		echo "latex: pdflatex/pdftotext not installed and apt-get is not usable as root; the LaTeX test will skip"; \
	fi

# The main job: the headline study on the laptop budget, then the confirmation of every value of its scientific
# parameters on fresh seeds (on by default for this budget; its reference arm is the validation-selected
# configuration, tested), then the experiments report. Run again, it resumes the same study (or just reports a
# finished one).
STUDY_DB := runs/cnn_aug/trials.db
run: setup
	$(BIN)/python tuning/run.py --space cnn_aug --budget laptop $$([ -f $(STUDY_DB) ] && echo --resume)
	$(BIN)/python -m analysis report --db $(STUDY_DB) --out reports/cnn_aug

test: setup browser latex
	GANRATOR_REQUIRE_DATA=1 $(BIN)/python -m pytest -q tests

# The tests whose results depend on the floating-point path, again with bf16 off: what a CPU without native
# bf16 (AVX2 only) computes. `GANRATOR_NO_BF16=1 make test` runs the whole suite that way.
test-fp32: setup
	GANRATOR_NO_BF16=1 GANRATOR_REQUIRE_DATA=1 $(BIN)/python -m pytest -q -m numerics tests

# The planned study (results/plan.yaml): learning curves of both families and the augmentation comparison, about 10
# hours on a 2-core CPU, run in parts. Each part resumes from the committed results/curves.db; commit it after the
# part. HOURS=2.5 ends the part before a run that would end later (a run cut anyway is redone from its start).
HOURS ?=
study: setup
	$(BIN)/python -m tuning.study --plan results/plan.yaml $(if $(HOURS),--hours $(HOURS))
	$(MAKE) docs


# The headline: classical against deep on all 55,000 training images. The deep study confirms every arm for 10
# epochs over 3 fresh seeds, the classical study tunes its pipeline on validation and tests the choice over 3
# seeds; the classical search at 10% of the data (the laptop budget, as `make run`'s deep study) tunes its
# pipelines, SVMs included, at that size; then their write-up in reports/headline/. About an hour and a half on a 2-core CPU; rerunning
# it resumes what an interruption left.
headline: setup
	$(BIN)/python tuning/run.py --space headline --budget headline --scheduler fifo $$([ -f runs/headline/trials.db ] && echo --resume)
	$(BIN)/python tuning/run.py --space classical_svm --budget full --num-samples 6 --sampler qmc --final-eval 1 \
		--final-seeds 3 $$([ -f runs/classical_svm/trials.db ] && echo --resume)
	$(BIN)/python tuning/run.py --space classical --budget laptop --no-confirm --final-eval 1 --final-seeds 3 \
		$$([ -f runs/classical/trials.db ] && echo --resume)
	$(BIN)/python -m analysis docs --db runs/headline/trials.db --db runs/classical_svm/trials.db --db runs/classical/trials.db --out reports/headline

# Scaling at the same compute per point: every trial of the scaling space trains its fixed optimizer steps whatever
# its training-set size (FIFO, no early stopping), then every scientific value is confirmed on 3 fresh seeds, so
# each training-set size has 3 seeds. Hours on a 2-core CPU; rerunning it resumes (a study confirmed on fewer
# seeds gets the missing ones).
scaling: setup
	$(BIN)/python tuning/run.py --space scaling --budget scaling --sampler qmc $$([ -f runs/scaling/trials.db ] && echo --resume)
	$(BIN)/python -m analysis report --db runs/scaling/trials.db --out reports/scaling

# Augmentation against training-set size: 10% and 25% of the training images, each with no, the validated and
# strong augmentation, at the same optimizer steps; the confirmation trains all 6 cells on 3 shared fresh seeds and
# the aug_by_size table pairs each against no augmentation at its size. Hours on a 2-core CPU; rerunning it resumes.
aug_size: setup
	$(BIN)/python tuning/run.py --space aug_size --budget aug_size --sampler random $$([ -f runs/aug_size/trials.db ] && echo --resume)
	$(BIN)/python -m analysis report --db runs/aug_size/trials.db --out reports/aug_size

# The same cells at one shared setting (the default recipe's lr and weight decay in every cell): the control that
# tells augmentation's effect from that of each cell's own tuning. With nothing to tune, 2 search trials only pick
# the reference; the confirmation trains all 6 cells on 3 seeds (18 runs of about 10 minutes each on a 2-core CPU,
# 2 at once: about 1 h 40 min in all); rerunning it resumes.
aug_size_shared: setup
	$(BIN)/python tuning/run.py --space aug_size_shared --budget aug_size --num-samples 2 --sampler qmc $$([ -f runs/aug_size_shared/trials.db ] && echo --resume)
	$(BIN)/python -m analysis report --db runs/aug_size_shared/trials.db --out reports/aug_size_shared

# The write-up, from the committed study database alone (results/curves.db, results/plan.yaml, results/history.yaml):
# docs/experiments.md with its HTML, LaTeX, tables and figures, and docs/studies.md; then docs/experiments.pdf where
# pdflatex is installed. One BLAS thread: the fits' and bootstraps' numbers are then the same on every run.
docs: setup
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m analysis study --plan results/plan.yaml --out docs
	@if command -v pdflatex >/dev/null; then \
		(cd docs && pdflatex -interaction=nonstopmode -halt-on-error experiments.tex >/dev/null) && \
		rm -f docs/experiments.aux docs/experiments.log docs/experiments.out && echo "docs: docs/experiments.pdf written"; \
	else \
		echo "docs: pdflatex not found (make latex installs it): docs/experiments.tex written, no PDF"; \
	fi

bench: setup
	$(BIN)/python benchmarks/throughput.py

clean:
	rm -rf $(VENV) runs reports
