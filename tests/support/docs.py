"""The docs' shell blocks: which are tested, and running them as a reader would paste them.

A fenced block's info string says what it is:

    ```sh tested                 run by ``make test``, in order, with the page's other tested blocks
    ```sh not-run: <reason>      a command that cannot run here (a deploy), and why

Every ``sh``/``bash``/``shell``/``console`` block in the docs carries one of the two, so no
command sits in the docs untested without a stated reason. Inside a tested block, a comment
``# => TEXT`` is the answer the commands before it must print (``...`` stands for anything on
that line). An error answer (``{"error":``, a declined card, a traceback, ...) that no
``# =>`` announces fails the page.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

BASH = shutil.which("bash") or "/bin/bash"
SHELL_LANGUAGES = frozenset({"sh", "bash", "shell", "console", "zsh"})
TESTED = "tested"
NOT_RUN = "not-run:"
EXPECT = "# => "
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
# Output that means something went wrong, unless an expectation announces it.
_TROUBLE = re.compile(
    r'\{"error":|^Traceback |command not found|No such file or directory|^curl: \(|'
    r"^(declined|refused): |^make: \*\*\*|^usage: |Error:",
    re.MULTILINE,
)


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    language: str
    marker: str  # what follows the language in the info string
    code: str

    @property
    def is_shell(self) -> bool:
        return self.language in SHELL_LANGUAGES

    @property
    def tested(self) -> bool:
        return self.is_shell and self.marker == TESTED

    @property
    def not_run_reason(self) -> str | None:
        if self.marker.startswith(NOT_RUN):
            return self.marker[len(NOT_RUN) :].strip()
        return None

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    def expectations(self) -> list[str]:
        return [
            line.strip()[len(EXPECT) :]
            for line in self.code.splitlines()
            if line.strip().startswith(EXPECT)
        ]


SKIPPED_FOLDERS = {"node_modules", "__pycache__"}


def doc_files(repo: Path) -> list[Path]:
    """Every Markdown file of the project (not in hidden, installed or generated folders)."""
    return sorted(
        path
        for path in repo.rglob("*.md")
        if not any(
            part.startswith(".") or part in SKIPPED_FOLDERS
            for part in path.relative_to(repo).parts[:-1]
        )
    )


def blocks(path: Path) -> list[Block]:
    """Every fenced code block of a Markdown file, in order."""
    found: list[Block] = []
    lines = path.read_text().splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence = opening["fence"]
        info = opening["info"].strip()
        language, _, marker = info.partition(" ")
        body: list[str] = []
        end = index + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            body.append(lines[end])
            end += 1
        found.append(Block(path, index + 1, language.lower(), marker.strip(), "\n".join(body)))
        index = end + 1
    return found


def expectation_pattern(expected: str) -> re.Pattern[str]:
    """``...`` matches anything within one line; everything else is literal."""
    parts = [re.escape(part) for part in expected.split("...")]
    return re.compile(r"[^\n]*?".join(parts))


def check_output(block: Block, output: str) -> list[str]:
    """What is wrong with one block's output: missing answers, unannounced errors."""
    problems: list[str] = []
    covered: list[tuple[int, int]] = []
    position = 0
    for expected in block.expectations():
        found = expectation_pattern(expected).search(output, position)
        if found is None:
            problems.append(f"{block.where}: expected {expected!r} in the output (in order)")
            continue
        covered.append(found.span())
        position = found.end()
    for trouble in _TROUBLE.finditer(output):
        line_start = output.rfind("\n", 0, trouble.start()) + 1
        line_end = output.find("\n", trouble.start())
        line_end = len(output) if line_end < 0 else line_end
        if not any(start < line_end and end > line_start for start, end in covered):
            problems.append(
                f"{block.where}: unannounced error: {output[line_start:line_end][:300]!r}"
            )
    return problems


def run_page(
    tested: list[Block], cwd: Path, env: dict[str, str], timeout: float
) -> tuple[list[str], str]:
    """Runs a page's tested blocks in one shell, as pasted one after the other into a
    terminal (no ``set -e``: a failing command does not stop a reader's shell either).
    Returns the problems found and the whole transcript."""
    markers = [f"__docs_block_{index}_done__" for index in range(len(tested))]
    script = "".join(
        f"{block.code}\nprintf '\\n%s\\n' {marker}\n"
        for block, marker in zip(tested, markers, strict=True)
    )
    finished = subprocess.run(  # noqa: S603  (the docs' own commands, run as a reader would)
        [BASH, "--noprofile", "--norc"],
        input=script,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # one transcript, in the order a terminal shows it
        text=True,
        timeout=timeout,
        check=False,
    )
    transcript = finished.stdout
    problems: list[str] = []
    rest = transcript
    for block, marker in zip(tested, markers, strict=True):
        output, found, rest = rest.partition(marker + "\n")
        if not found:
            problems.append(f"{block.where}: the shell stopped before this block ended")
            break
        problems += check_output(block, output)
    return problems, transcript


# Links -----------------------------------------------------------------------------------------

_LINK = re.compile(r"(?<!!)\[[^\]]*\]\((?P<target>[^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(?P<title>.+?)\s*#*\s*$")


def slug(title: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"[`*_]", "", title).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    in_fence = False
    for line in path.read_text().splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        heading = None if in_fence else _HEADING.match(line)
        if heading:
            base = slug(heading["title"])
            name, count = base, 1
            while name in found:
                name, count = f"{base}-{count}", count + 1
            found.add(name)
    return found


def prose(path: Path) -> str:
    """The file's text outside fenced blocks (links in code are not links)."""
    kept: list[str] = []
    in_fence = False
    for line in path.read_text().splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if not in_fence:
            kept.append(line)
    return "\n".join(kept)


_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")


def code_spans(text: str) -> list[str]:
    """Inline code spans (CommonMark: closed by a backtick run as long as the opening one)."""
    return [match[2].strip() for match in _CODE_SPAN.finditer(text)]


def broken_links(path: Path, repo: Path) -> list[str]:
    """Relative links whose file, or whose #anchor in a Markdown file, does not exist."""
    problems = []
    for link in _LINK.finditer(prose(path)):
        target = link["target"]
        if re.match(r"^[a-z]+:", target):
            continue  # http(s), mailto: not checked offline
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if not resolved.exists():
            problems.append(f"{path.relative_to(repo)}: {target}: no such file")
            continue
        if anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(f"{path.relative_to(repo)}: {target}: no such heading")
    return problems
