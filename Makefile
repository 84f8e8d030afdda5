# One entry point for set-up, images, lint, tests and the demo.
VENV := .venv/bin

.PHONY: setup images lint test test-fast demo

setup:
	bash .ci/setup
	bash .ci/ensure-docker

images: setup
	PYTHON=$(VENV)/python bash images/build.sh

lint: setup
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .

# Everything, slow chaos and load tests included (what CI runs); then the container
# contract and sandbox suites again with warm start on: workers must not tell the difference.
test: images lint
	$(VENV)/pytest
	IWTEST_WARM=1 $(VENV)/pytest tests/test_end_to_end.py tests/test_sandbox.py

# The quick local loop: skips tests marked slow.
test-fast: images
	$(VENV)/pytest -m "not slow"

demo: images
	bash examples/demo.sh
