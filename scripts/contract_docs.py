"""Rewrite the contract tables of a Markdown page (docs/reference/contract.md)."""

from __future__ import annotations

import pathlib
import sys

from harness import contract

BEGIN, END = "<!-- contract:begin -->", "<!-- contract:end -->"


def main(path: str) -> int:
    readme = pathlib.Path(path)
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        print(f"{path}: no {BEGIN} ... {END} markers", file=sys.stderr)
        return 2
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{BEGIN}\n{contract.markdown().strip()}\n{END}{tail}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/reference/contract.md"))
