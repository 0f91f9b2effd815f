"""Run the Python examples of the documentation pages as doctests.

Usage::

    .venv/bin/python scripts/run_doc_examples.py docs/getting-started.md [more pages ...]

Every fenced ```` ```python ```` block of a page that contains ``>>>`` prompts is an example;
the blocks of one page run in order, sharing their names (a page reads as one session), in a
fresh temporary working directory, with ``ELLIPSIS`` and ``NORMALIZE_WHITESPACE``. Blocks
without prompts (napari GUI snippets, shell commands) are not run. Failures are reported with
the page's line numbers; the exit code is the number of pages that failed (0: all passed).
``tests/test_docs.py`` runs this script on every page of ``docs/``.
"""

from __future__ import annotations

import doctest
import os
import re
import sys
import tempfile
from pathlib import Path

FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```",
                   re.M | re.S)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def examples(text: str) -> list[tuple[int, str]]:
    """``(line, code)`` of every python block with ``>>>`` prompts (line: 1-based, body start)."""
    found = []
    for match in FENCE.finditer(text):
        body = match["body"]
        if match["lang"] in ("python", "pycon", "py") and ">>>" in body:
            indent = len(match["indent"])
            lines = [line[indent:] for line in body.splitlines()]
            found.append((text.count("\n", 0, match.start("body")) + 1, "\n".join(lines) + "\n"))
    return found


def run_page(path: Path) -> tuple[int, int]:
    """Run one page's examples; ``(failed, attempted)``."""
    text = path.read_text(encoding="utf-8")
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    globs: dict = {"__name__": "__doc_examples__"}
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="doc-examples-") as tmp:
        os.chdir(tmp)
        try:
            for line, code in examples(text):
                test = parser.get_doctest(code, globs, f"{path.name}:{line}", str(path), line - 1)
                runner.run(test, clear_globs=False)
                globs = test.globs  # DocTest copies its globals: carry them to the next block
        finally:
            os.chdir(cwd)
    result = runner.summarize(verbose=False)
    return result.failed, result.attempted


def main(argv: list[str] | None = None) -> int:
    pages = [Path(p).resolve() for p in (sys.argv[1:] if argv is None else argv)]
    failed_pages = 0
    for page in pages:
        failed, attempted = run_page(page)
        print(f"{page.name}: {attempted} examples, {failed} failed")
        failed_pages += bool(failed)
    return failed_pages


if __name__ == "__main__":
    sys.exit(main())
