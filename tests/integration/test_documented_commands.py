"""Every `fcfs …` command line README.md and docs/*.md show exists (issue #14, acceptance 6).

Each line shown in a shell code block or in inline code runs: for real where that is cheap
(strategies, migrate, `consume --check`, reconcile, --version), with `--help` appended where
it would start a server, a consumer or a long run. typer answers a command or an option that
does not exist with "No such command" / "No such option" and exit 2: that fails the line.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from fcfs import NewCoupon, Settings, open_services
from fcfs.entrypoints.cli import app
from tests.support.http_server import settings_env

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\s*$")
INLINE = re.compile(r"`(fcfs [^`]+)`")
DEFAULTED = re.compile(r"\$\{\w+:-([^}]*)\}")  # ${FCFS_API_WORKERS:-2} → 2
SHELLS = {"", "sh", "bash", "shell", "console"}
CHEAP = {("strategies",), ("migrate",), ("consume", "--check"), ("reconcile",), ("--version",), ("--help",)}
UNKNOWN = ("No such command", "No such option", "Got unexpected extra argument")


def shown_lines(text: str) -> Iterator[str]:
    """`fcfs …` lines of shell code blocks, and inline code spans that start with `fcfs `."""
    fence: str | None = None
    for line in text.splitlines():
        opened = FENCE.match(line.strip())
        if opened:
            fence = opened.group(1) if fence is None else None
            continue
        if fence is not None:
            command = line.strip().removeprefix("$ ")
            if fence in SHELLS and command.startswith("fcfs "):
                yield command
            continue
        yield from INLINE.findall(line)


def argv_of(line: str) -> tuple[str, ...]:
    """The arguments after `fcfs`: comments, pipes and `&` cut, `[optional]` brackets and `${X:-default}` resolved."""
    words = shlex.split(DEFAULTED.sub(r"\1", line), comments=True)
    argv: list[str] = []
    for word in words[1:]:
        if word in {"|", "&", "&&", ";", ">"} or word.startswith(("|", ">")):
            break
        argv.append(word.strip("[]").rstrip("&;"))
    return tuple(part for part in argv if part)


def documented() -> dict[tuple[str, ...], str]:
    """Each distinct command line shown, with where it is shown first."""
    found: dict[tuple[str, ...], str] = {}
    for document in DOCUMENTS:
        for line in shown_lines(document.read_text()):
            found.setdefault(argv_of(line), f"{document.relative_to(ROOT)}: {line}")
    return found


COMMANDS = documented()


def cheap(argv: tuple[str, ...]) -> bool:
    return any(argv[: len(prefix)] == prefix for prefix in CHEAP)


def run(argv: tuple[str, ...], settings: Settings) -> Result:
    return CliRunner().invoke(app, list(argv), env=settings_env(settings))


def assert_exists(argv: tuple[str, ...], outcome: Result, where: str) -> None:
    said = outcome.output
    assert not any(phrase in said for phrase in UNKNOWN), f"{where}\n{said}"
    assert outcome.exit_code != 2, f"{where}: refused (exit 2)\n{said}"


@pytest.fixture
async def documented_settings(pipeline_settings_on_services: Settings) -> Settings:
    """Real services, and coupon 1 (the docs' example) created with its stock loaded."""
    settings = pipeline_settings_on_services
    async with open_services(settings) as services:
        coupon = await services.create_coupon.execute(NewCoupon("documented", 10))
        await services.load_stock.execute(coupon.id)
    assert coupon.id == 1
    return settings


def test_the_docs_show_the_commands_of_the_readme() -> None:
    """The parser finds what a reader sees, so the test below cannot pass on an empty list."""
    subcommands = {argv[0] for argv in COMMANDS if argv}
    assert subcommands >= {"serve", "consume", "demo", "loadtest", "reconcile", "strategies", "migrate"}
    assert ("reconcile", "--coupon", "1", "--dry-run") in COMMANDS
    assert argv_of("fcfs strategies | cat") == ("strategies",)
    assert argv_of("fcfs loadtest URL --coupon 1 [--ramp 2] [--json]") == (
        "loadtest", "URL", "--coupon", "1", "--ramp", "2", "--json",
    )  # fmt: skip


@pytest.mark.parametrize("argv", sorted(COMMANDS), ids=[" ".join(argv) or "fcfs" for argv in sorted(COMMANDS)])
def test_every_documented_command_exists(argv: tuple[str, ...], documented_settings: Settings) -> None:
    where = COMMANDS[argv]
    if cheap(argv):
        outcome = run(argv, documented_settings)
        assert_exists(argv, outcome, where)
    else:
        outcome = run((*argv, "--help"), documented_settings)
        assert_exists(argv, outcome, where)
        assert outcome.exit_code == 0, f"{where}\n{outcome.output}"


@pytest.mark.parametrize(
    "line", ["fcfs reconcil --coupon 1", "fcfs reconcile --coupon 1 --dry-runn", "fcfs strategies extra"]
)
def test_a_command_that_does_not_exist_fails_the_check(line: str, tmp_path: Path) -> None:
    argv = argv_of(line)
    outcome = run(argv if cheap(argv) else (*argv, "--help"), Settings(data_dir=str(tmp_path)))

    with pytest.raises(AssertionError):
        assert_exists(argv, outcome, line)
