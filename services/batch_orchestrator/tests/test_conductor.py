"""The batch conductor: resolution order, skipping, and definitions rejected at load."""

from __future__ import annotations

import itertools

import pytest
from batch_orchestrator.domain.conductor import (
    PIPELINES,
    Conductor,
    PipelineDefinitionError,
    UnknownPipelineError,
)
from hypothesis import given
from hypothesis import strategies as st

from common_core.status import PhaseName, PhaseStatus


@st.composite
def dags(draw: st.DrawFn) -> dict[str, list[str]]:
    """Random DAGs: a phase depends only on phases named before it; listing order shuffled."""
    count = draw(st.integers(min_value=1, max_value=12))
    names = [f"p{i}" for i in range(count)]
    edges = {
        name: draw(st.lists(st.sampled_from(names[:index]), unique=True)) if index else []
        for index, name in enumerate(names)
    }
    order = draw(st.permutations(names))
    return {name: edges[name] for name in order}


def closure(dependencies: dict[str, list[str]], phase: str) -> set[str]:
    found = {phase}
    for need in dependencies[phase]:
        found |= closure(dependencies, need)
    return found


@given(dependencies=dags(), data=st.data())
def test_resolution_runs_each_needed_phase_once_after_its_dependencies(
    dependencies: dict[str, list[str]], data: st.DataObject
) -> None:
    conductor = Conductor(dependencies)
    requested = data.draw(st.sampled_from(sorted(dependencies)))
    order = conductor.phases_for(requested)
    assert set(order) == closure(dependencies, requested)
    assert len(order) == len(set(order))
    assert order[-1] == requested
    for position, phase in enumerate(order):
        assert set(dependencies[phase]) <= set(order[:position])


@given(dependencies=dags(), data=st.data())
def test_completed_phases_are_skipped_and_the_rest_pending(
    dependencies: dict[str, list[str]], data: st.DataObject
) -> None:
    conductor = Conductor(dependencies)
    requested = data.draw(st.sampled_from(sorted(dependencies)))
    completed = data.draw(st.sets(st.sampled_from(sorted(dependencies))))
    resolved = conductor.resolve(requested, completed)
    assert [phase for phase, _ in resolved] == conductor.phases_for(requested)
    for phase, status in resolved:
        assert status is (PhaseStatus.SKIPPED if phase in completed else PhaseStatus.PENDING)


@given(dependencies=dags(), data=st.data())
def test_a_back_edge_makes_a_cycle_that_is_rejected_with_its_path(
    dependencies: dict[str, list[str]], data: st.DataObject
) -> None:
    with_dependencies = sorted(p for p in dependencies if closure(dependencies, p) != {p})
    if not with_dependencies:
        dependencies = {"p0": ["p1"], "p1": []}
        with_dependencies = ["p0"]
    later = data.draw(st.sampled_from(with_dependencies))
    earlier = data.draw(st.sampled_from(sorted(closure(dependencies, later) - {later})))
    cyclic = {**dependencies, earlier: [*dependencies[earlier], later]}
    with pytest.raises(PipelineDefinitionError, match="cycle") as raised:
        Conductor(cyclic)
    path = str(raised.value).split(": ", 1)[1].split(" -> ")
    assert path[0] == path[-1]
    for phase, need in itertools.pairwise(path):
        assert need.strip("'") in cyclic[phase.strip("'")]


def test_a_self_dependency_and_an_undefined_dependency_are_rejected() -> None:
    with pytest.raises(PipelineDefinitionError, match="cycle: 'a' -> 'a'"):
        Conductor({"a": ["a"]})
    with pytest.raises(PipelineDefinitionError, match="'a' depends on 'b', which is not defined"):
        Conductor({"a": ["b"]})


def test_the_platform_pipelines() -> None:
    assert PIPELINES.resolve(PhaseName.SPELLCHECK, set()) == [
        (PhaseName.SPELLCHECK, PhaseStatus.PENDING)
    ]
    assert PIPELINES.resolve(PhaseName.CJ_ASSESSMENT, set()) == [
        (PhaseName.SPELLCHECK, PhaseStatus.PENDING),
        (PhaseName.CJ_ASSESSMENT, PhaseStatus.PENDING),
    ]
    assert PIPELINES.resolve(PhaseName.CJ_ASSESSMENT, {PhaseName.SPELLCHECK}) == [
        (PhaseName.SPELLCHECK, PhaseStatus.SKIPPED),
        (PhaseName.CJ_ASSESSMENT, PhaseStatus.PENDING),
    ]


def test_an_undefined_request_is_rejected() -> None:
    with pytest.raises(UnknownPipelineError):
        Conductor({"a": []}).resolve("b", set())
