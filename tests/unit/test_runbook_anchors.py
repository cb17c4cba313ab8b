"""Every runbook link an alert or alarm carries lands on a section of docs/runbook.md.

On-call opens the link from the page at 3 a.m.; a link to a missing anchor drops them at the top of
a long page. The anchors are collected from the code itself (every literal that can become an
alert's `runbook_anchor`) and from the Terraform that builds alarm descriptions and the state
machine's P1, so a new alert kind without its section fails here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "docs" / "runbook.md"
PACKAGE = ROOT / "lambdas" / "aurora_sync"
ANCHOR = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)+")


def heading_anchors(markdown: str) -> set[str]:
    """GitHub's heading ids: lower-case, punctuation dropped, spaces to hyphens."""
    anchors = set()
    for line in markdown.splitlines():
        if match := re.match(r"#{1,6} (.+)", line):
            text = re.sub(r"[^\w\- ]", "", match[1].strip().lower())
            anchors.add(text.replace(" ", "-"))
    return anchors


def _literals(node: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def _node_anchors(node: ast.AST) -> set[str]:
    if isinstance(node, ast.Call):
        found = set().union(*(_literals(k.value) for k in node.keywords if k.arg == "runbook_anchor"))
        if isinstance(node.func, ast.Name) and node.func.id == "CheckResult" and len(node.args) >= 7:
            found |= _literals(node.args[6])
        return found
    if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if any(isinstance(t, ast.Name) and t.id.lower().endswith("anchor") for t in targets):
            return _literals(node.value)
    if isinstance(node, ast.FunctionDef) and node.name.endswith("_anchor"):
        returns = [r.value for r in ast.walk(node) if isinstance(r, ast.Return) and r.value is not None]
        return set().union(*(_literals(r) for r in returns))
    return set()


def code_anchors(source: str) -> set[str]:
    """Literals passed as `runbook_anchor=`, as CheckResult's 7th argument, or assigned to a name
    ending in `anchor` / `ANCHOR`, and those a function named `*_anchor` returns."""
    found = set().union(*(_node_anchors(node) for node in ast.walk(ast.parse(source))))
    return {a for a in found if ANCHOR.fullmatch(a)}


def terraform_anchors() -> set[str]:
    texts = [p.read_text() for p in (ROOT / "terraform").rglob("*") if p.suffix in {".tf", ".json"}]
    return {a for text in texts for a in re.findall(r"runbook_url\}#([a-z0-9-]+)", text)}


def test_every_linked_anchor_is_a_runbook_section() -> None:
    # GIVEN every anchor an alert (both Lambdas), an alarm or the state machine's P1 links to
    linked = {a for p in sorted(PACKAGE.rglob("*.py")) for a in code_anchors(p.read_text())}
    linked |= terraform_anchors()
    # WHEN compared with the runbook's section headings
    sections = heading_anchors(RUNBOOK.read_text())
    # THEN each has its section (and the scan found the known ones: it can fail)
    assert {
        "load-missing",
        "load-skipped",
        "merge-failed",
        "export-failed",
        "sync-execution-failed",
    } <= linked
    assert sorted(linked - sections) == []


def test_the_scan_finds_anchors_in_every_form_the_code_uses() -> None:
    source = """
CheckResult("loads", t, Status.PROBLEM, s, Severity.P2, d, "load-x")
Alert(Severity.P3, "c", "", "s", runbook_anchor="kind-y")
FALLBACK_RUNBOOK_ANCHOR = "vault-z"
def _loads_anchor(kinds):
    return "a-b" if kinds else "c-d"
"""
    assert code_anchors(source) == {"load-x", "kind-y", "vault-z", "a-b", "c-d"}
    assert heading_anchors("## re-export a window\n## load-skipped\n") == {
        "re-export-a-window",
        "load-skipped",
    }
