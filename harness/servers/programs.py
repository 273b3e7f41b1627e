"""Which program a service's command line runs, and a digest of it.

A certificate names what it certified. A command line does not: a jar rebuilt under
the same path, or a module edited in place, runs under the same words. So the
manifest records, for each service, the command as given, the executable it resolves
to and the SHA-256 of the program it runs:

- a binary (or script) on the PATH or at a path: the file; a script's digest also
  covers the files beside it that it names (a wrapper running ``$(dirname $0)/x.jar``);
- ``java ... -jar X``: the jar;
- ``python -m M``: every file of M's package directory (or M's file);
- ``python S.py``: the script;
- ``docker|podman run ... IMAGE``: the image's digest when the reference pins one
  (``IMAGE@sha256:...``); otherwise none, and the note says how to pin it.

Placeholders (``{temporal_address}``) are left as they are: only the program counts.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import pathlib
import re
import shlex
import shutil
import signal
import subprocess
from dataclasses import dataclass

VERSION_TIMEOUT_S = 5.0
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
_PYTHONS = re.compile(r"^python(\d+(\.\d+)?)?$")


@dataclass(frozen=True)
class Identity:
    command: str
    kind: str
    executable: str | None
    program: str | None
    sha256: str | None
    files: int
    version: str | None
    note: str


def _digest(paths: list[pathlib.Path], root: pathlib.Path | None = None) -> str:
    """SHA-256 over the files' relative names and contents, in sorted order."""
    h = hashlib.sha256()
    for path in sorted(paths):
        name = str(path.relative_to(root)) if root is not None else path.name
        h.update(name.encode() + b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def _module_files(module: str, cwd: pathlib.Path) -> tuple[pathlib.Path | None, list[pathlib.Path]]:
    """The directory (or file) of ``python -m module`` as the service would import it
    from ``cwd``, and its files (caches left out)."""
    spec = None
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or spec.origin is None:
        guess = cwd / pathlib.Path(*module.split("."))
        if guess.is_dir():
            origin = guess / "__init__.py"
        elif guess.with_suffix(".py").is_file():
            origin = guess.with_suffix(".py")
        else:
            return None, []
    else:
        origin = pathlib.Path(spec.origin)
    if origin.name in ("__init__.py", "__main__.py") and origin.parent.is_dir():
        root = origin.parent
        files = [
            p
            for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc",)
        ]
        return root, files
    return origin, [origin] if origin.is_file() else []


def _named_beside(script: pathlib.Path) -> list[pathlib.Path]:
    """Files in a script's directory that its text names (a wrapper's jar)."""
    try:
        text = script.read_text(errors="replace")
    except OSError:
        return []
    return [
        p
        for p in script.parent.iterdir()
        if p.is_file() and p != script and p.name in text and len(p.name) > 3
    ]


def _version(argv: list[str]) -> str | None:
    """``PROGRAM --version``'s first line, when it answers with exit 0 within a bound."""
    try:
        proc = subprocess.Popen(
            [*argv, "--version"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,  # its own group: a program that ignores the flag
        )  # and starts serving is ended whole, with anything it spawned
    except OSError:
        return None
    try:
        stdout, stderr = proc.communicate(timeout=VERSION_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return None
    lines = (stdout or stderr).strip().splitlines()
    return lines[0][:200] if proc.returncode == 0 and lines else None


def identify(command: str, cwd: pathlib.Path | None = None, *, version: bool = True) -> Identity:
    """What ``command`` runs (see the module's docstring)."""
    here = cwd or pathlib.Path.cwd()
    try:
        argv = shlex.split(command)
    except ValueError as err:
        return Identity(command, "unknown", None, None, None, 0, None, f"cannot split: {err}")
    if not argv:
        return Identity(command, "unknown", None, None, None, 0, None, "empty command")
    while argv and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", argv[0]):  # VAR=value prefixes
        argv = argv[1:]
    if not argv:
        return Identity(command, "unknown", None, None, None, 0, None, "no program")
    exe = shutil.which(argv[0]) or (argv[0] if (here / argv[0]).is_file() else None)
    exe_path = pathlib.Path(exe).resolve() if exe else None
    name = pathlib.Path(argv[0]).name
    if name in ("docker", "podman") and "run" in argv:
        image = next(
            (a for a in argv[argv.index("run") + 1 :] if not a.startswith("-") and "=" not in a),
            None,
        )
        pinned = image.split("@", 1)[1] if image and "@sha256:" in image else None
        return Identity(
            command,
            "container",
            exe,
            image,
            pinned.removeprefix("sha256:") if pinned else None,
            0,
            None,
            "" if pinned else f"pin the image as {image}@sha256:<digest> to certify its content",
        )
    if name == "java" and "-jar" in argv and argv.index("-jar") + 1 < len(argv):
        jar = pathlib.Path(argv[argv.index("-jar") + 1])
        jar = jar if jar.is_absolute() else here / jar
        if not jar.is_file():
            return Identity(command, "jar", exe, str(jar), None, 0, None, "jar not found")
        ver = _version(argv[: argv.index("-jar") + 2]) if version else None
        return Identity(command, "jar", exe, str(jar), _digest([jar]), 1, ver, "")
    if _PYTHONS.match(name) or (exe_path is not None and _PYTHONS.match(exe_path.name)):
        if "-m" in argv and argv.index("-m") + 1 < len(argv):
            module = argv[argv.index("-m") + 1]
            root, files = _module_files(module, here)
            # A wrapper (``python -m tests.mutants.x reference_services.stigma``) runs
            # the modules it is given too: their files are part of the program.
            for arg in argv[argv.index("-m") + 2 :]:
                if _MODULE.match(arg) and "." in arg:
                    files += _module_files(arg, here)[1]
            if not files or root is None:
                return Identity(
                    command, "python-module", exe, module, None, 0, None, "module not found"
                )
            base = pathlib.Path(os.path.commonpath([f.parent for f in files]))
            ver = _version(argv[: argv.index("-m") + 2]) if version else None
            return Identity(
                command,
                "python-module",
                exe,
                str(root),
                _digest(files, base),
                len(files),
                ver,
                "the module's own files; what it imports from elsewhere is not covered",
            )
        script = next((a for a in argv[1:] if a.endswith(".py")), None)
        if script is not None:
            path = pathlib.Path(script) if os.path.isabs(script) else here / script
            if path.is_file():
                return Identity(command, "script", exe, str(path), _digest([path]), 1, None, "")
        return Identity(command, "unknown", exe, None, None, 0, None, "no module or script")
    if exe_path is None or not exe_path.is_file():
        return Identity(command, "binary", exe, None, None, 0, None, "program not found")
    files = [exe_path]
    kind = "binary"
    if exe_path.read_bytes()[:2] == b"#!":
        kind = "script"
        files += _named_beside(exe_path)
    ver = _version([str(exe_path)]) if version else None
    return Identity(
        command, kind, str(exe_path), str(exe_path), _digest(files, exe_path.parent), len(files),
        ver, "with the files beside it that it names" if len(files) > 1 else "",
    )  # fmt: skip
