"""The batch conductor: which phases a requested pipeline runs, in which order.

Pipelines are data: each phase lists the phases it depends on, and a request names the last
phase wanted. The definitions are checked when they are loaded (every dependency defined, no
cycle), so a bad edit fails at import with the reason, never halfway through a batch.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from types import MappingProxyType
from typing import Generic, TypeVar

from common_core.status import PhaseName, PhaseStatus

P = TypeVar("P", bound=str)


class PipelineDefinitionError(ValueError):
    """The pipeline definitions are unusable (undefined dependency, cycle)."""


class UnknownPipelineError(LookupError):
    """A request names a phase no pipeline defines."""


class Conductor(Generic[P]):
    """Validated pipeline definitions and the resolution of a request against them."""

    def __init__(self, dependencies: Mapping[P, Sequence[P]]) -> None:
        for phase, needs in dependencies.items():
            for need in needs:
                if need not in dependencies:
                    raise PipelineDefinitionError(
                        f"phase {phase!r} depends on {need!r}, which is not defined"
                    )
        cycle = _find_cycle(dependencies)
        if cycle is not None:
            raise PipelineDefinitionError(
                "pipeline definitions contain a cycle: " + " -> ".join(map(repr, cycle))
            )
        self._dependencies: Mapping[P, tuple[P, ...]] = MappingProxyType(
            {phase: tuple(needs) for phase, needs in dependencies.items()}
        )

    @property
    def dependencies(self) -> Mapping[P, tuple[P, ...]]:
        return self._dependencies

    def phases_for(self, requested: P) -> list[P]:
        """`requested` and everything it depends on, each after its dependencies."""
        if requested not in self._dependencies:
            raise UnknownPipelineError(f"no pipeline defines phase {requested!r}")
        ordered: list[P] = []
        seen: set[P] = set()

        def visit(phase: P) -> None:
            if phase in seen:
                return
            seen.add(phase)
            for need in self._dependencies[phase]:
                visit(need)
            ordered.append(phase)

        visit(requested)
        return ordered

    def resolve(self, requested: P, completed_phases: Collection[P]) -> list[tuple[P, PhaseStatus]]:
        """The pipeline's phases in execution order: SKIPPED if already completed, else PENDING."""
        return [
            (phase, PhaseStatus.SKIPPED if phase in completed_phases else PhaseStatus.PENDING)
            for phase in self.phases_for(requested)
        ]


def _find_cycle(dependencies: Mapping[P, Sequence[P]]) -> list[P] | None:
    """One cycle as a path that returns to its start, or None for a DAG."""
    done: set[P] = set()
    path: list[P] = []
    on_path: set[P] = set()

    def visit(phase: P) -> list[P] | None:
        if phase in on_path:
            return [*path[path.index(phase) :], phase]
        if phase in done:
            return None
        path.append(phase)
        on_path.add(phase)
        for need in dependencies[phase]:
            cycle = visit(need)
            if cycle is not None:
                return cycle
        path.pop()
        on_path.discard(phase)
        done.add(phase)
        return None

    for phase in dependencies:
        cycle = visit(phase)
        if cycle is not None:
            return cycle
    return None


PIPELINES: Conductor[PhaseName] = Conductor(
    {
        PhaseName.SPELLCHECK: (),
        PhaseName.CJ_ASSESSMENT: (PhaseName.SPELLCHECK,),
    }
)
"""The platform's pipelines: a new phase is one entry here (and its dispatcher)."""
