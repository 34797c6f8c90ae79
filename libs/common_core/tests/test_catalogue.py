"""docs/events.md is the registry rendered; it must be regenerated when a contract changes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from common_core.catalogue import check_catalogue, main, render_catalogue
from common_core.events import REGISTRY, EventSpec

CATALOGUE = Path(__file__).resolve().parents[3] / "docs" / "events.md"
RENDERED = render_catalogue(REGISTRY)


def test_docs_events_md_is_up_to_date() -> None:
    assert main(["--check", str(CATALOGUE)]) == 0, (
        "docs/events.md is stale: run `python -m common_core.catalogue > docs/events.md`"
    )


def test_a_stale_file_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check", __file__]) == 1
    assert "is stale" in capsys.readouterr().err


def test_a_missing_file_is_reported() -> None:
    problem = check_catalogue(CATALOGUE.with_name("no-such-catalogue.md"), REGISTRY)
    assert problem is not None
    assert "does not exist" in problem


def test_without_check_the_catalogue_goes_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert capsys.readouterr().out == RENDERED


@pytest.mark.parametrize("spec", list(REGISTRY), ids=lambda spec: spec.event_type)
def test_each_event_has_a_section_with_its_fields(spec: EventSpec) -> None:
    section = RENDERED.split(f"### `{spec.event_type}`\n", 1)[1].split("\n### ", 1)[0]
    assert spec.description in section
    assert f"- Topic: `{spec.topic}`" in section
    assert f"- Key: `{spec.key_field}`" in section
    for name, info in spec.data_model.model_fields.items():
        required = "yes" if info.is_required() else "no"
        assert f"| `{name}` |" in section
        row = next(line for line in section.splitlines() if line.startswith(f"| `{name}` |"))
        assert row.split(" | ")[2].startswith(required), row


def test_every_link_points_at_a_heading() -> None:
    headings = {
        re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in RENDERED.splitlines()
        if line.startswith("#")
    }
    links = set(re.findall(r"\]\(#([^)]+)\)", RENDERED))
    assert links
    assert links <= headings


def test_rendering_is_deterministic() -> None:
    assert render_catalogue(REGISTRY) == RENDERED
