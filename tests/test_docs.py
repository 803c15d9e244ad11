"""The docs a newcomer walks stay true: every CLI command (and each of its options) is documented in
docs/cli.md, the README stays a front page whose links resolve, links between the docs resolve, and
nothing in the product or its docs points outside the repository (a clone has no ../shared)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
DOCS = REPO / "docs"
CLI_DOC = DOCS / "cli.md"
README_MAX_LINES = 160
COMMON_OPTIONS = {"-h", "--help", "--db", "--tier", "--json"}   # documented once, for every command
# What a clone of the repository does not have: the team's folder beside it and the files in it.
OUTSIDE = re.compile(r"\.\./shared\b|\bshared/(?:arm64|eval)\b|\bMODELS\.md\b|\bDESIGN\.md\b")
SCANNED = ["README.md", "CHANGELOG.md", "docs", "bench", "memento", "sql"]


def _need(*paths: Path) -> None:
    missing = [str(p.relative_to(REPO)) for p in paths if not p.exists()]
    if missing:
        pytest.skip(f"{', '.join(missing)} not in this copy of the tests (e.g. the Pi lane's stage)")


def _memento_help(*args: str) -> str:
    """`python -m memento ARGS --help` from this checkout (the module layout may change: only the
    command line is relied on)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-m", "memento", *args, "--help"], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=120)
    assert done.returncode == 0, f"memento {' '.join(args)} --help failed:\n{done.stderr}"
    return done.stdout


def cli_commands(help_text: str) -> List[str]:
    """The subcommands argparse lists in `memento --help`: its `{a,b,c}` choices, or (when the
    subparsers have a metavar such as COMMAND) the names listed under it, one per line."""
    choices = re.search(r"^\s*\{([\w,-]+)\}", help_text, re.M)
    if choices:
        return choices.group(1).split(",")
    section = re.search(r"^positional arguments:\n(.*?)(?:\n\S|\Z)", help_text, re.S | re.M)
    assert section, f"no subcommand list in `memento --help`:\n{help_text}"
    lines = section.group(1).splitlines()
    # The metavar's own line is indented 2; each command 4 (argparse's nesting), its help further right.
    return [m.group(1) for line in lines for m in [re.match(r"^ {4}([a-z][\w-]*)(?:\s|$)", line)] if m]


def cli_options(help_text: str) -> set:
    """Option strings of one command's --help (usage and option lines)."""
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*|-[a-zA-Z])\b", help_text))


def doc_sections(text: str) -> Dict[str, str]:
    """`## memento NAME` (or `## NAME`) heading -> the text up to the next heading of that level or above."""
    sections, name, body = {}, None, []
    for line in text.splitlines():
        m = re.match(r"^(#{1,3})\s+`?(?:memento\s+)?([a-z][\w-]*)`?\s*$", line)
        if m or re.match(r"^#{1,3}\s", line):
            if name:
                sections[name] = "\n".join(body)
            name, body = (m.group(2) if m else None), []
        elif name:
            body.append(line)
    if name:
        sections[name] = "\n".join(body)
    return sections


def test_the_command_list_parser_reads_both_help_layouts():
    with_metavar = ("usage: memento [-h] COMMAND ...\n\npositional arguments:\n  COMMAND\n"
                    "    remember  store a memory\n    forget    delete memories for good (each id\n"
                    "              is tried)\n    replicate\n              stream the store\n\n"
                    "options:\n  -h, --help  show this help message and exit\n")
    assert cli_commands(with_metavar) == ["remember", "forget", "replicate"]
    plain = "usage: memento [-h] {remember,recall,mcp} ...\n\npositional arguments:\n  {remember,recall,mcp}\n"
    assert cli_commands(plain) == ["remember", "recall", "mcp"]


@pytest.mark.spawns_python
def test_every_cli_command_and_option_is_documented_in_docs_cli_md():
    _need(CLI_DOC)
    commands = cli_commands(_memento_help())
    assert {"remember", "recall", "mcp"} <= set(commands), f"unexpected command list: {commands}"
    sections = doc_sections(CLI_DOC.read_text(encoding="utf-8"))
    undocumented = [c for c in commands if c not in sections]
    assert not undocumented, (f"docs/cli.md has no `## memento NAME` section for: {', '.join(undocumented)}")
    missing = {}
    for command in commands:
        options = cli_options(_memento_help(command)) - COMMON_OPTIONS
        absent = sorted(o for o in options if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", sections[command]))
        if absent:
            missing[command] = absent
    assert not missing, f"options missing from their command's section in docs/cli.md: {missing}"
    whole = CLI_DOC.read_text(encoding="utf-8")
    for option in sorted(COMMON_OPTIONS - {"-h", "--help"}):
        assert f"`{option}" in whole, f"docs/cli.md does not describe {option}"


def readme_links() -> List[str]:
    return re.findall(r"\]\(([^)#\s]+)(?:#[^)\s]*)?\)", README.read_text(encoding="utf-8"))


def test_readme_is_a_front_page_with_an_index_of_docs():
    _need(README, DOCS)
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; the reference belongs in docs/"
    linked = {link for link in readme_links() if not re.match(r"\w+://", link)}
    broken = sorted(link for link in linked if not (REPO / link).exists())
    assert not broken, f"README.md links to missing files: {broken}"
    pages = {f"docs/{p.name}" for p in DOCS.glob("*.md")}
    assert pages, "docs/ has no pages"
    assert not pages - linked, f"docs pages the README's index does not link: {sorted(pages - linked)}"


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces -> hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def test_links_between_the_docs_resolve():
    _need(README, DOCS)
    pages = [README, *sorted(DOCS.glob("*.md"))] + ([REPO / "CHANGELOG.md"] if (REPO / "CHANGELOG.md").exists() else [])
    broken = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for target, anchor in re.findall(r"\]\(([^)#\s]*)(?:#([^)\s]*))?\)", text):
            if re.match(r"\w+://|mailto:", target):
                continue
            path = (page.parent / target).resolve() if target else page
            if not path.exists():
                broken.append(f"{page.relative_to(REPO)}: {target}")
            elif anchor and path.suffix == ".md":
                headings = re.findall(r"^#{1,6}\s+(.*)$", path.read_text(encoding="utf-8"), re.M)
                if anchor not in {_slug(h) for h in headings}:
                    broken.append(f"{page.relative_to(REPO)}: {target}#{anchor}")
    assert not broken, f"links that do not resolve: {broken}"


def test_nothing_points_outside_the_repository():
    """A person who clones the repository has no ../shared (nor the team's MODELS.md or DESIGN.md):
    the product, its benchmarks and its docs must stand alone."""
    _need(README)
    hits = []
    for name in SCANNED:
        root = REPO / name
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []
        for path in files:
            if "__pycache__" in path.parts:
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:   # a plot, a binary
                continue
            for number, line in enumerate(text.splitlines(), 1):
                for m in OUTSIDE.finditer(line):
                    hits.append(f"{path.relative_to(REPO)}:{number}: {m.group(0)}")
    assert not hits, "points outside the repository:\n" + "\n".join(hits)
