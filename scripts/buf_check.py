"""buf lint and buf breaking for the contract (``make proto-check``, part of ``make test``).

    python scripts/buf_check.py [--buf .bin/buf] [--root .]

* ``buf lint`` on the workspace of ``buf.yaml`` (``proto/stigma/v1``; the one rule
  excepted there says why).
* ``buf breaking`` (rules WIRE_JSON) against the frozen pre-token schema,
  ``proto/compat/stigma/v0``. That file lives in package ``stigma.v0`` (so that the
  compatibility tests can generate it next to v1), and buf pairs messages by their
  full name: compared as it is, nothing would be compared. So it is copied, with its
  package renamed to ``stigma.v1``, to where v1's file is, in a temporary directory,
  and v1 is checked against that copy: fields 1 and 2 of StartAgentRequest must keep
  their numbers, types and names, as old clients send them.

Findings come from ``--error-format json`` (one object per line: path, start_line,
type = the rule id, message); the exit status is non-zero when there is any.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import re
import subprocess
import sys
import tempfile
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent
FROZEN = pathlib.Path("proto/compat/stigma/v0/stigma_service.proto")
CURRENT = pathlib.Path("stigma/v1/stigma_service.proto")  # path inside the module


def frozen_against(root: pathlib.Path, dest: pathlib.Path) -> pathlib.Path:
    """The frozen schema as buf must see it to compare it with v1: same package, same
    file path inside the module. Returns the directory to pass as ``--against``."""
    text = (root / FROZEN).read_text()
    renamed, count = re.subn(r"^package stigma\.v0;", "package stigma.v1;", text, flags=re.M)
    if count != 1:
        raise SystemExit(f"{FROZEN}: expected one 'package stigma.v0;' line")
    target = dest / CURRENT
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(renamed)
    return dest


def _findings(proc: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    """buf's JSON findings; any other output line (a build failure) is a finding too,
    of type BUF_FAILURE, so that a broken input never reads as "no findings"."""
    found: list[dict[str, Any]] = []
    for line in (proc.stdout + "\n" + proc.stderr).splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and "type" in doc:
            found.append(doc)
        else:
            found.append({"type": "BUF_FAILURE", "message": line})
    if proc.returncode != 0 and not found:
        found.append({"type": "BUF_FAILURE", "message": f"buf exited {proc.returncode}"})
    return found


def run(buf: str, args: list[str], cwd: pathlib.Path) -> tuple[int, list[dict[str, Any]]]:
    proc = subprocess.run(
        [buf, *args, "--error-format", "json"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return proc.returncode, _findings(proc)


def lint(buf: str, root: pathlib.Path) -> tuple[int, list[dict[str, Any]]]:
    return run(buf, ["lint"], root)


def breaking(
    buf: str, root: pathlib.Path, against: pathlib.Path
) -> tuple[int, list[dict[str, Any]]]:
    return run(buf, ["breaking", "--against", str(against)], root)


def _show(what: str, code: int, found: list[dict[str, Any]]) -> None:
    print(f"buf {what}: {'ok' if code == 0 and not found else f'exit {code}'}")
    for f in found:
        where = f"{f.get('path', '')}:{f.get('start_line', '')}: " if f.get("path") else ""
        print(f"  {where}{f['type']}: {f.get('message', '')}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--buf", default=str(ROOT / ".bin" / "buf"))
    parser.add_argument("--root", type=pathlib.Path, default=ROOT)
    args = parser.parse_args(argv)
    root: pathlib.Path = args.root.resolve()
    failed = False
    code, found = lint(args.buf, root)
    _show("lint", code, found)
    failed |= code != 0 or bool(found)
    with tempfile.TemporaryDirectory(prefix="buf-frozen-") as tmp:
        against = frozen_against(root, pathlib.Path(tmp))
        code, found = breaking(args.buf, root, against)
    _show(f"breaking (against {FROZEN}, package renamed to stigma.v1)", code, found)
    failed |= code != 0 or bool(found)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
