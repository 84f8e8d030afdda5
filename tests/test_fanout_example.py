"""The fan-out example (examples/fanout) on the whole platform: a master task fans out 20
workers from inside its container and writes the sum of their results."""

from __future__ import annotations

import importlib.util

from tests.harness import ROOT


def test_the_fanout_example_sums_20_squares_gathered_by_its_master(platform):
    path = ROOT / "examples" / "fanout" / "run.py"
    spec = importlib.util.spec_from_file_location("fanout_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    project = platform.new_project("fanout")
    assert module.main(project) == {"sum": sum(n * n for n in range(1, 21)), "children": 20}
    (master,) = project.tasks(code_name="master")
    assert master["children"] == 20
    squares = project.tasks(code_name="square", per_page=100)
    assert len(squares) == 20 and {t["parent_id"] for t in squares} == {master["id"]}
