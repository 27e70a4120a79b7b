# Empathy-QA toolkit. `make demo` and `make test` work on a fresh machine: they install first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
LS_VENV := .venv-ls
TORCH_VERSION ?= 2.13.0
LS_VERSION ?= 1.23.2
LS_PORT ?= 8085

.PHONY: install install-ls install-browser lock demo learn test lint format bench bench-scale topic-model label-studio label-studio-stop sample-site clean

install: $(VENV)/.installed

# Every version comes from requirements.lock (the dev and ray extras included: the tests check that
# --engine ray matches the local engine); the project itself goes in without resolving anything.
# torch first, pinned: a CPU build of it lies on this kind of machine's disk; an unpinned torch
# (or one pulled in by trl) would fetch a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "torch==$(TORCH_VERSION)"
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q -e . --no-deps
	touch $@

# Refresh the locks after changing pyproject.toml: compiled against the pinned torch, with the local
# +cpu label dropped (the installed CPU build satisfies torch==X) and no CUDA packages let through.
TOOLS := .venv-tools
lock:
	test -x $(TOOLS)/bin/pip-compile || ($(PYTHON) -m venv $(TOOLS) && $(TOOLS)/bin/pip install -q pip-tools)
	$(TOOLS)/bin/pip-compile --quiet --extra dev --extra ray --strip-extras --no-emit-index-url \
		--no-emit-find-links --constraint requirements-pins.in --output-file requirements.lock pyproject.toml
	sed -i -E 's/^torch==([0-9.]+)\+cpu$$/torch==\1/' requirements.lock
	! grep -inE '^(nvidia|triton)|cuda' requirements.lock
	echo "label-studio==$(LS_VERSION)" | $(TOOLS)/bin/pip-compile --quiet --no-emit-index-url \
		--no-emit-find-links --strip-extras --output-file requirements-ls.lock -

# Label Studio pins openai<2 and pyarrow<25, so it lives in its own environment.
install-ls: $(LS_VENV)/.installed

$(LS_VENV)/.installed: requirements-ls.lock
	test -x $(LS_VENV)/bin/python || $(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/python -m pip install -q --upgrade pip
	$(LS_VENV)/bin/python -m pip install -q -r requirements-ls.lock
	touch $@

# The browser tests (tests/browser) drive Debian's Chromium through its chromedriver.
BROWSER_PACKAGES := chromium chromium-driver fonts-noto-cjk
install-browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -q && $$SUDO apt-get install -y -q $(BROWSER_PACKAGES); \
	fi

demo: install install-ls
	$(PY) -m demo

# The miniature that visibly learns (SFT -> reward model -> GRPO on 2 CPU cores): runs/learn/learning.{json,png}
learn: install
	$(PY) -m training.learn --out runs/learn

test: install install-ls install-browser
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install
	for script in $(filter-out bench/scale.py,$(wildcard bench/*.py)); do echo "== $$script"; $(PY) $$script || exit 1; done

# every stage at the paper's size (40,959 questions, 168,470 answers): hours; SCALE=0.05 fits ~15 min
SCALE ?= 1
bench-scale: install install-ls
	$(PY) bench/scale.py --scale $(SCALE) --draft-limit 0 --crawl

# the bundled topic classifier: generated threads plus the posts written blind for it (10x: real-like text);
# tests/data/topic_eval/posts.jsonl stays out of it, as the evaluation (bench/topics.py)
topic-model: install
	$(PY) -m empathyqa.synthetic --questions 3000 --seed 11 --same-id-rate 0 --out runs/topic-synthetic.jsonl
	$(PY) -m curation.topics train runs/topic-synthetic.jsonl \
		tests/data/topic_eval/train_1.jsonl@10 tests/data/topic_eval/train_2.jsonl@10 --out curation/data/topic_model.json

label-studio: install install-ls
	$(PY) -m annotation.review.server start --port $(LS_PORT)

label-studio-stop: install
	$(PY) -m annotation.review.server stop

sample-site: install
	$(PY) -m crawlers.sample_site --port 8070

clean:
	rm -rf data runs .pytest_cache .ruff_cache
