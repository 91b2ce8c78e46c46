"""Every action the workflows use is pinned to a full commit SHA with the release it stands for beside it.

A tag can be moved to other code; a commit cannot, so the SHA is what runs and the `# vX.Y.Z` comment is what
a reviewer (and Dependabot, which rewrites both) reads. These checks are offline: they prove the form and
the consistency of the pins across workflows, not that each SHA is the commit its tag names on GitHub.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>[^\s#]+)\s*(?:#\s*(?P<comment>.*?))?\s*$")
PINNED = re.compile(r"^(?P<action>[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(?:/[^@\s]+)?)@(?P<sha>[0-9a-f]{40})$")
VERSION = re.compile(r"^v\d+(?:\.\d+){0,2}$")


def uses_lines(path: Path) -> list[tuple[int, str, str | None]]:
    """(line number, reference, trailing comment) of each `uses:` line, as written."""
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = USES_LINE.match(line)
        if match:
            found.append((number, match["ref"].strip("'\""), match["comment"]))
    return found


def uses_in_document(path: Path) -> list[str]:
    """Each `uses:` the workflow declares (job steps and reusable-workflow jobs), from the parsed YAML."""
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    refs = []
    for job in (document.get("jobs") or {}).values():
        if "uses" in job:
            refs.append(job["uses"])
        refs.extend(step["uses"] for step in job.get("steps") or [] if "uses" in step)
    return refs


def external(ref: str) -> bool:
    return not ref.startswith("./")


def test_there_are_workflows_and_they_use_actions() -> None:
    assert WORKFLOWS
    assert all(uses_in_document(path) for path in WORKFLOWS)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_use_is_on_its_own_line_where_these_checks_see_it(path: Path) -> None:
    assert [ref for _, ref, _ in uses_lines(path)] == uses_in_document(path)


def pin_problems(path: Path) -> list[str]:
    """One line per `uses:` that is not pinned by commit (or image digest) with its version beside it."""
    problems = []
    for number, ref, comment in uses_lines(path):
        if not external(ref):
            continue
        if ref.startswith("docker://"):
            if not re.search(r"@sha256:[0-9a-f]{64}$", ref):
                problems.append(f"{path.name}:{number}: {ref} is not pinned by image digest")
            continue
        if not PINNED.match(ref):
            problems.append(f"{path.name}:{number}: {ref} is not pinned to a 40-hex commit SHA")
        if comment is None or not VERSION.match(comment):
            problems.append(f"{path.name}:{number}: {ref} has no `# vX[.Y[.Z]]` comment (got {comment!r})")
    return problems


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit_with_its_version_beside_it(path: Path) -> None:
    assert pin_problems(path) == []


def inconsistent_pins(paths: list[Path]) -> list[str]:
    """Commits pinned under two versions, and versions pinned to two commits, across ``paths``."""
    versions_of: dict[tuple[str, str], set[str]] = defaultdict(set)
    commits_of: dict[tuple[str, str], set[str]] = defaultdict(set)
    for path in paths:
        for _, ref, comment in uses_lines(path):
            match = PINNED.match(ref)
            if match and comment:
                versions_of[(match["action"], match["sha"])].add(comment)
                commits_of[(match["action"], comment)].add(match["sha"])
    assert versions_of, "no pinned actions found"
    return [
        f"{a}@{sha} is pinned as {' and '.join(sorted(v))}" for (a, sha), v in versions_of.items() if len(v) > 1
    ] + [
        f"{a} {version} is pinned to {' and '.join(sorted(c))}" for (a, version), c in commits_of.items() if len(c) > 1
    ]


def test_a_commit_always_carries_the_same_version_and_a_version_always_the_same_commit() -> None:
    assert inconsistent_pins(WORKFLOWS) == []


def test_the_consistency_check_finds_a_commit_under_two_versions(tmp_path: Path) -> None:
    sha, other = "08c6903cd8c0fde910a37f88322edcfb5dd907a8", "11bd71901bbe5b1630ceea73d27597364c9af683"
    one, two = tmp_path / "one.yml", tmp_path / "two.yml"
    one.write_text(f"jobs:\n  a:\n    steps:\n      - uses: actions/checkout@{sha} # v5.0.0\n", encoding="utf-8")
    two.write_text(
        f"jobs:\n  a:\n    steps:\n      - uses: actions/checkout@{sha} # v4.2.2\n"
        f"      - uses: actions/checkout@{other} # v5.0.0\n",
        encoding="utf-8",
    )
    assert inconsistent_pins([one, two]) == [
        f"actions/checkout@{sha} is pinned as v4.2.2 and v5.0.0",
        f"actions/checkout v5.0.0 is pinned to {sha} and {other}",
    ]


def test_the_checks_reject_tags_short_shas_and_missing_or_wrong_comments(tmp_path: Path) -> None:
    workflow = tmp_path / "bad.yml"
    workflow.write_text(
        "jobs:\n"
        "  a:\n"
        "    steps:\n"
        "      - uses: actions/checkout@v5\n"
        "      - uses: actions/setup-python@e797f83 # v6.0.0\n"
        "      - uses: actions/setup-node@49933ea5288caeca8642d1e84afbd3f7d6820020\n"
        "      - uses: pulumi/actions@8e5e406f4007fca908480587cb9893c07090f58d # latest\n"
        "      - uses: ./.github/actions/local\n",
        encoding="utf-8",
    )
    assert pin_problems(workflow) == [
        "bad.yml:4: actions/checkout@v5 is not pinned to a 40-hex commit SHA",
        "bad.yml:4: actions/checkout@v5 has no `# vX[.Y[.Z]]` comment (got None)",
        "bad.yml:5: actions/setup-python@e797f83 is not pinned to a 40-hex commit SHA",
        "bad.yml:6: actions/setup-node@49933ea5288caeca8642d1e84afbd3f7d6820020 has no `# vX[.Y[.Z]]` comment "
        "(got None)",
        "bad.yml:7: pulumi/actions@8e5e406f4007fca908480587cb9893c07090f58d has no `# vX[.Y[.Z]]` comment "
        "(got 'latest')",
    ]
