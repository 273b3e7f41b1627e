"""mkdocs hook: the alert runbooks live in reports/runbooks/ (alerts.yml and the
certification report link them there); the site shows them under
operations/runbooks/ without a second copy in docs/."""

from __future__ import annotations

import pathlib
from typing import Any

from mkdocs.structure.files import File, Files

RUNBOOKS = pathlib.Path(__file__).resolve().parent.parent / "reports" / "runbooks"


def on_files(files: Files, config: Any, **_: Any) -> Files:
    for path in sorted(RUNBOOKS.glob("*.md")):
        files.append(
            File.generated(config, f"operations/runbooks/{path.name}", abs_src_path=str(path))
        )
    return files
