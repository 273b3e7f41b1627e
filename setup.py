"""Build hook: the generated protobuf package (``stigma.v1``, ``stigma.v0``) when absent.

In a checkout `make gen` writes it to proto/gen/python; an install straight from a
checkout (``pip install '<checkout>[gate]'``) or from an sdist has only the .proto
files. Package discovery ([tool.setuptools.packages.find], which looks in
proto/gen/python) happens when ``setup()`` reads pyproject.toml, before any command
such as build_py runs, so the code is generated here, ahead of it, with the same
script and the same pinned grpcio-tools ([build-system] requires) as `make gen`.
"""

from __future__ import annotations

import importlib.util
import pathlib
import sys

from setuptools import setup

ROOT = pathlib.Path(__file__).resolve().parent
GEN = ROOT / "proto" / "gen" / "python"


def generate_protos() -> None:
    if (GEN / "stigma" / "v1" / "stigma_service_pb2.py").is_file():
        return  # `make gen` (or an earlier build) wrote it
    if importlib.util.find_spec("grpc_tools") is None:
        sys.exit(
            "handshake-harness build: proto/gen/python is absent and grpcio-tools is not "
            "installed to generate it: build with build isolation, pip install grpcio-tools, "
            "or run `make gen`"
        )
    spec = importlib.util.spec_from_file_location("gen_proto", ROOT / "scripts" / "gen_proto.py")
    assert spec is not None
    assert spec.loader is not None
    gen_proto = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen_proto)
    if gen_proto.generate(GEN) != 0:
        sys.exit("handshake-harness build: protoc failed on proto/ (its message is above)")


generate_protos()
setup()
