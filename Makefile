# One entry point for set-up, images, lint, tests and the demo.
VENV := .venv/bin
# Four workers (pytest-xdist), a file's tests on one of them: see pyproject.toml.
PYTEST := $(VENV)/pytest -n 4 --dist loadfile

.PHONY: setup setup-test images lint test test-fast demo

# What the platform and the demo need; setup-test adds the browser and the dev tools.
setup:
	bash .ci/setup
	bash .ci/ensure-docker

setup-test:
	bash .ci/setup test

images: setup
	PYTHON=$(VENV)/python bash images/build.sh

lint: setup-test
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/python .ci/check_layout.py
	$(VENV)/mypy

# Everything, slow chaos and load tests included (what CI runs); then the container
# contract, sandbox and fan-out suites again with warm start on: workers must not tell the
# difference.
test: setup-test images lint
	$(PYTEST)
	IWTEST_WARM=1 $(PYTEST) tests/test_end_to_end.py tests/test_sandbox.py tests/test_fanout.py

# The quick local loop: skips tests marked slow.
test-fast: setup-test images
	$(PYTEST) -m "not slow"

demo: images
	bash examples/demo.sh
