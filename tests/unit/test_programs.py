"""What a service's command line runs, and its digest (harness.servers.programs): a
program rebuilt or edited under the same command gets another digest."""

from __future__ import annotations

import pathlib
import sys

from harness.servers import programs


def _write(path: pathlib.Path, text: str, mode: int = 0o644) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def test_an_edited_python_module_gets_another_digest(tmp_path: pathlib.Path) -> None:
    _write(tmp_path / "team_stigma" / "__init__.py", "")
    main = _write(tmp_path / "team_stigma" / "__main__.py", "print('v1')\n")
    command = f"{sys.executable} -m team_stigma --listen {{stigma_listen}}"
    before = programs.identify(command, tmp_path, version=False)
    assert before.kind == "python-module"
    assert before.files == 2
    assert before.sha256 is not None
    main.write_text("print('v2')\n")
    after = programs.identify(command, tmp_path, version=False)
    assert after.sha256 != before.sha256
    assert after.program == before.program


def test_a_rebuilt_jar_behind_a_wrapper_script_gets_another_digest(tmp_path: pathlib.Path) -> None:
    """The Java reference's shape: a script that runs the jar beside it."""
    jar = _write(tmp_path / "bin" / "stigma.jar", "jar v1")
    script = _write(
        tmp_path / "bin" / "stigma",
        '#!/bin/sh\nexec java -jar "$(dirname "$0")/stigma.jar" "$@"\n',
        0o755,
    )
    before = programs.identify(f"{script} --temporal {{temporal_address}}", version=False)
    assert before.kind == "script"
    assert before.files == 2
    jar.write_text("jar v2")
    after = programs.identify(f"{script} --temporal {{temporal_address}}", version=False)
    assert after.sha256 != before.sha256
    direct = programs.identify(f"java -jar {jar}", version=False)
    assert direct.kind == "jar"
    assert direct.program == str(jar)


def test_a_binary_digest_is_of_its_bytes_and_its_version_is_asked(tmp_path: pathlib.Path) -> None:
    tool = _write(tmp_path / "zigflow", "#!/bin/sh\necho 'zigflow 1.2.3'\n", 0o755)
    ident = programs.identify(f"{tool} --stigma {{stigma_target}}")
    assert ident.version == "zigflow 1.2.3"
    assert ident.sha256 is not None
    assert len(ident.sha256) == 64


def test_what_cannot_be_digested_says_why() -> None:
    missing = programs.identify("/nonexistent/zigflow --x", version=False)
    assert missing.sha256 is None
    assert missing.note == "program not found"
    image = programs.identify("docker run --rm ghcr.io/team/stigma:1.4", version=False)
    assert image.kind == "container"
    assert image.sha256 is None
    assert "@sha256:" in image.note
    pinned = programs.identify("docker run ghcr.io/team/stigma@sha256:" + "ab" * 32)
    assert pinned.sha256 == "ab" * 32
    broken = programs.identify("java -jar 'unterminated", version=False)
    assert broken.kind == "unknown"
