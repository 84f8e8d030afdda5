"""The map-reduce example (examples/mapreduce) on the whole platform. A file of its own: it is
the longest test, and pytest-xdist gives each file to one worker."""

from __future__ import annotations

import importlib.util

import pytest

from ironworks.client import Batch
from tests.harness import ROOT


def load_example():
    path = ROOT / "examples" / "mapreduce" / "run.py"
    spec = importlib.util.spec_from_file_location("mapreduce_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.timeout(600)  # 201 containers at the engine's pace: about a minute here
def test_the_mapreduce_example_counts_46_primes_up_to_200(platform):
    project = platform.new_project("mapreduce")
    example = load_example()
    example.upload_workers(project)
    job = Batch("is_prime", [{"n": n} for n in range(1, 201)], reduce="count", client=project)
    assert job.run(timeout_s=600, poll_s=1) == {"primes": 46, "missing": 0}
    items = list(project.batch_results(job.id))
    assert [item["result"]["n"] for item in items] == list(range(1, 201))
    assert sum(item["result"]["prime"] for item in items) == 46
