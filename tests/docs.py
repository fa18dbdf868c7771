"""The documentation's code blocks, for the tests that run them as printed.

Every fenced block in README.md and docs/ is named by an HTML comment on the line before it,
`<!-- snippet: NAME -->`, and a test fetches it with `snippet("NAME")`; tests/test_docs.py fails when a
block has no name or no test asks for it, so no printed command or example goes untried.
"""

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```$", re.DOTALL | re.MULTILINE)
_NAME = re.compile(r"<!-- snippet: ([\w-]+) -->")


@dataclass(frozen=True)
class Snippet:
    name: str | None
    language: str
    text: str
    where: str  # file:line, for messages


def documentation_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("**/*.md"))]


def page(name: str) -> str:
    """The text of docs/<name>.md."""
    return (DOCS / f"{name}.md").read_text()


def section(text: str, heading: str) -> str:
    """From `heading` (a whole line, e.g. "## Limits") to the next heading of the same or a higher level."""
    start = text.index(f"\n{heading}\n") + 1
    level = len(heading.split(" ", 1)[0])
    end = re.compile(rf"^#{{1,{level}}} ", re.MULTILINE).search(text, start + 1)
    return text[start : end.start()] if end else text[start:]


def all_snippets() -> list[Snippet]:
    found = []
    for path in documentation_files():
        text = path.read_text()
        for match in _BLOCK.finditer(text):
            before = text[: match.start()]
            name = _NAME.fullmatch(before.rstrip("\n").rsplit("\n", 1)[-1].strip())
            line = before.count("\n") + 1
            found.append(
                Snippet(
                    name=name.group(1) if name else None,
                    language=match.group(1),
                    text=match.group(2),
                    where=f"{path.relative_to(ROOT)}:{line}",
                )
            )
    return found


def snippet(name: str) -> Snippet:
    """The one block named `name`."""
    (found,) = [block for block in all_snippets() if block.name == name]
    return found


def readme_commands() -> dict[str, str]:
    """The README's two commands by what they do: {"dev": "make dev", "test": "make test"}."""
    commands = [line.split("#", 1)[0].strip() for line in snippet("make-commands").text.splitlines()]
    return {command.rsplit(" ", 1)[-1]: command for command in commands}
