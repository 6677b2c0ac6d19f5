"""The diagrams and tables in docs/ name only what exists in the code.

Every CamelCase name in a Mermaid block is a class (or other top-level name) defined in
`src/fcfs` and importable from its module; every sequence participant is such a class or
one of the few outside actors below; every `method(...)` an arrow calls on a class exists
on it. Every `FCFS_*` variable the docs mention is a `Settings` field or one the compose
file reads, and every `Settings` field is documented in operations.md.
"""

from __future__ import annotations

import ast
import inspect
import re
from dataclasses import fields
from functools import cache
from importlib import import_module
from pathlib import Path

import pytest

from fcfs.bootstrap.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SRC = ROOT / "src" / "fcfs"
OUTSIDE_ACTORS = {"User", "Operator", "nginx", "Redis", "Kafka", "MySQL"}  # sequence participants that are not code
PRODUCTS = {"MySQL", "MariaDB"}  # CamelCase words that name products, not code
CAMEL = re.compile(r"\b[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+\b")
PARTICIPANT = re.compile(r"^\s*(?:participant|actor)\s+(\w+)(?:\s+as\s+(.+?))?\s*$")
MESSAGE = re.compile(r"^\s*(\w+)\s*(?:-{1,2}>>|-{1,2}>|-{1,2}x|-{1,2}\))\s*[+-]?\s*(\w+)\s*:\s*(.*)$")
CALL = re.compile(r"^([a-z_][a-z0-9_]*)\(")
DIAGRAM_TYPES = ("flowchart", "graph", "sequenceDiagram", "classDiagram", "stateDiagram")


def mermaid_blocks() -> list[tuple[str, str]]:
    blocks = []
    for doc in sorted(DOCS.glob("*.md")):
        for index, block in enumerate(re.findall(r"```mermaid\n(.*?)```", doc.read_text(), re.DOTALL)):
            blocks.append((f"{doc.name}#{index + 1}", block))
    return blocks


BLOCKS = mermaid_blocks()
SEQUENCES = [(name, block) for name, block in BLOCKS if block.lstrip().startswith("sequenceDiagram")]


@cache
def defined_names() -> dict[str, list[str]]:
    """Top-level classes and functions of every fcfs module, found without importing them."""
    names: dict[str, list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        module = ".".join(path.relative_to(SRC.parent).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                names.setdefault(node.name, []).append(module)
    return names


def resolve(name: str) -> object:
    """The object `name` is in fcfs, imported from a module that defines it."""
    modules = defined_names().get(name)
    assert modules, f"{name} is not defined anywhere in src/fcfs"
    for module in modules:
        found = getattr(import_module(module), name, None)
        if found is not None:
            return found
    raise AssertionError(f"{name} is defined in {modules} but cannot be imported from them")


def participants(block: str) -> dict[str, str]:
    """Alias → what it stands for (the label after `as`, or the alias itself)."""
    found = {}
    for line in block.splitlines():
        match = PARTICIPANT.match(line)
        if match:
            found[match.group(1)] = (match.group(2) or match.group(1)).strip()
    return found


def test_the_docs_hold_the_architecture_and_the_five_sequences() -> None:
    assert any(name.startswith("architecture.md") for name, _ in BLOCKS)
    assert len([name for name, _ in SEQUENCES if name.startswith("sequences.md")]) == 5


@pytest.mark.parametrize(("where", "block"), BLOCKS, ids=[name for name, _ in BLOCKS])
def test_every_camel_case_name_in_a_diagram_exists_in_fcfs(where: str, block: str) -> None:
    for name in sorted(set(CAMEL.findall(block)) - PRODUCTS):
        resolve(name)


@pytest.mark.parametrize(("where", "block"), BLOCKS, ids=[name for name, _ in BLOCKS])
def test_every_diagram_is_a_known_mermaid_type_free_of_statement_breaking_characters(where: str, block: str) -> None:
    assert block.lstrip().startswith(DIAGRAM_TYPES), where
    if block.lstrip().startswith("sequenceDiagram"):
        for line in block.splitlines():
            assert ";" not in line and "#" not in line, f"{where}: `;` and `#` end or escape a statement: {line}"


@pytest.mark.parametrize(("where", "block"), SEQUENCES, ids=[name for name, _ in SEQUENCES])
def test_every_participant_is_a_fcfs_class_or_a_named_outside_actor(where: str, block: str) -> None:
    declared = participants(block)
    assert declared, where
    for alias, label in declared.items():
        if label in OUTSIDE_ACTORS:
            continue
        assert inspect.isclass(resolve(label)), f"{where}: participant {alias} is {label}, not a class"
    for line in block.splitlines():
        match = MESSAGE.match(line)
        if match:
            assert {match.group(1), match.group(2)} <= set(declared), f"{where}: undeclared participant in {line}"


@pytest.mark.parametrize(("where", "block"), SEQUENCES, ids=[name for name, _ in SEQUENCES])
def test_every_method_an_arrow_calls_exists_on_the_participant_it_calls(where: str, block: str) -> None:
    declared = participants(block)
    calls = 0
    for line in block.splitlines():
        match = MESSAGE.match(line)
        call = CALL.match(match.group(3)) if match else None
        if match is None or call is None or declared[match.group(2)] in OUTSIDE_ACTORS:
            continue
        target = resolve(declared[match.group(2)])
        assert hasattr(target, call.group(1)), f"{where}: {declared[match.group(2)]} has no {call.group(1)}: {line}"
        calls += 1
    assert calls, f"{where}: no arrow names a method"


def _compose_variables() -> set[str]:
    return set(re.findall(r"\$\{(FCFS_[A-Z0-9_]+)", (ROOT / "deploy" / "docker-compose.yml").read_text()))


def test_every_fcfs_variable_in_the_docs_is_a_setting_or_read_by_the_compose_file() -> None:
    known = {f"FCFS_{spec.name.upper()}" for spec in fields(Settings)} | _compose_variables()
    for doc in sorted(DOCS.glob("*.md")):
        mentioned = set(re.findall(r"\bFCFS_[A-Z0-9_]*[A-Z0-9]\b", doc.read_text()))
        assert mentioned <= known, f"{doc.name} mentions {sorted(mentioned - known)}"


def test_every_setting_is_documented_in_operations() -> None:
    text = (DOCS / "operations.md").read_text()
    missing = [f"FCFS_{spec.name.upper()}" for spec in fields(Settings) if f"FCFS_{spec.name.upper()}" not in text]
    assert not missing, f"docs/operations.md does not document {missing}"
