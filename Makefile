# Two commands on a fresh clone:  `make demo`  and  `make test`.
# Each creates .venv and installs requirements-dev.txt itself (re-run only when those files change).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast lint bench venv clean local-up local-down glue-docker-test glue-docker-run

venv: $(STAMP)

$(STAMP): requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

demo: $(STAMP)  ## ddbmigrate migrate on the local stack while a writer changes the source, ending with verify and the report
	$(BIN)/ddbmigrate demo

test: $(STAMP)  ## every test, against the real local stack
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)  ## only the tests that need neither the local stack nor Spark
	$(BIN)/python -m pytest -m "not integration and not spark" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check ddbmigrate jobs tests bench

bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

local-up: $(STAMP)
	$(BIN)/ddbmigrate local up

local-down: $(STAMP)
	$(BIN)/ddbmigrate local down

clean:
	rm -rf $(VENV) .stack build dist *.egg-info .pytest_cache .ruff_cache

# Glue 5.0's own image (public.ecr.aws/glue/aws-glue-libs:5). Needs a Docker engine — CI has none.
# GLUE_DOCKER_FLAGS=--print shows the docker command instead of running it.
glue-docker-test:  ## our tests inside the Glue 5.0 image (default: -m "not integration"; PYTEST_ARGS to change)
	scripts/glue-docker.sh $(GLUE_DOCKER_FLAGS) test $(PYTEST_ARGS)

glue-docker-run:  ## one job inside the Glue 5.0 image: make glue-docker-run JOB=export-import ARGS="--export_uri s3://…"
	@test -n "$(JOB)" || { echo "usage: make glue-docker-run JOB=export-import|table-copy ARGS='--name value …'" >&2; exit 2; }
	scripts/glue-docker.sh $(GLUE_DOCKER_FLAGS) run $(JOB) $(ARGS)
