"""Write harness/report/schemas/certification.schema.json from the report model.

    python scripts/report_schema.py           rewrite the schema
    python scripts/report_schema.py --check   exit 1 when the checked-in schema is stale

The schema ships with the package (pyproject package-data) so that a consumer of
certification.json can validate it with any JSON Schema validator; the model
(harness/report/model.py) is its only source.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SCHEMA_PATH = ROOT / "harness" / "report" / "schemas" / "certification.schema.json"


def main(argv: list[str] | None = None) -> int:
    from harness.report.model import json_schema_text

    parser = argparse.ArgumentParser(prog="python scripts/report_schema.py")
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    args = parser.parse_args(argv)
    text = json_schema_text()
    if args.check:
        if not SCHEMA_PATH.is_file() or SCHEMA_PATH.read_text() != text:
            print(f"{SCHEMA_PATH.relative_to(ROOT)} is stale: run `make report-schema`")
            return 1
        return 0
    SCHEMA_PATH.parent.mkdir(parents=True, exist_ok=True)
    SCHEMA_PATH.write_text(text)
    print(f"wrote {SCHEMA_PATH.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
