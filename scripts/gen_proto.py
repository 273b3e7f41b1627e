"""Generate Python code and type stubs for the contract protos with grpcio-tools.

Run by `make gen`, and by setup.py when a build finds no generated code (an install
straight from a checkout or an sdist); the output directory is not committed (it is rebuilt from
proto/ whenever a .proto file changes), so it can never be stale.
"""

from __future__ import annotations

import argparse
import pathlib
import shutil
import sys

from grpc_tools import protoc  # type: ignore[import-untyped]

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "proto", ROOT / "proto" / "compat"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=pathlib.Path, required=True)
    return generate(parser.parse_args().out)


def generate(out: pathlib.Path) -> int:
    """Writes the Python modules, stubs and gRPC code of every contract proto into
    ``out`` (replaced); 0 on success. Also called by setup.py at build time."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    well_known = pathlib.Path(protoc.__file__).parent / "_proto"
    jobs = [
        (ROOT / "proto", sorted((ROOT / "proto" / "stigma").rglob("*.proto"))),
        (ROOT / "proto" / "compat", sorted((ROOT / "proto" / "compat").rglob("*.proto"))),
    ]
    for include, files in jobs:
        for proto in files:
            args = [
                "protoc",
                f"-I{include}",
                f"-I{well_known}",
                f"--python_out={out}",
                f"--pyi_out={out}",
                f"--grpc_python_out={out}",
                str(proto.relative_to(include)),
            ]
            if protoc.main(args) != 0:
                print(f"protoc failed for {proto}", file=sys.stderr)
                return 1
    # Regular packages (not namespace packages), so mypy and pytest agree.
    for module in out.rglob("*_pb2.py"):
        for package in module.relative_to(out).parents:
            if package != pathlib.Path("."):
                (out / package / "__init__.py").touch()
    print(f"generated {len(list(out.rglob('*_pb2*.py')))} modules in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
