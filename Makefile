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

# Everything, slow chaos and load tests included (what CI runs).
test: images lint
	$(VENV)/pytest

# The quick local loop: skips tests marked slow.
test-fast: images
	$(VENV)/pytest -m "not slow"

demo: images
	bash examples/demo.sh
