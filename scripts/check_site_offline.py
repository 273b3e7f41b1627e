"""Fail when the built docs site needs the network to render.

    python scripts/check_site_offline.py reports/out/site

Looks at every HTML page for a script, stylesheet, font, image or frame loaded from
an absolute URL (http:, https: or protocol-relative), and at every CSS file for an
url() or @import of one. Links a reader may follow (<a href>) are fine.
"""

from __future__ import annotations

import pathlib
import re
import sys

ASSET = re.compile(
    r"<(?:script|img|iframe|source|audio|video)\b[^>]*\bsrc=[\"']?((?:https?:)?//[^\"' >]+)"
    r"|<link\b[^>]*\bhref=[\"']?((?:https?:)?//[^\"' >]+)[^>]*>",
    re.I,
)
CSS = re.compile(r"(?:url\(|@import\s+)[\"']?((?:https?:)?//[^\"')\s]+)", re.I)


def external_assets(site: pathlib.Path) -> list[str]:
    found: list[str] = []
    for page in sorted(site.rglob("*.html")):
        for m in ASSET.finditer(page.read_text(errors="replace")):
            tag = m.group(0)
            url = m.group(1) or m.group(2)
            if tag.lower().startswith("<link") and not re.search(
                r"rel=[\"']?(?:stylesheet|preload|icon|modulepreload|preconnect)", tag, re.I
            ):
                continue
            found.append(f"{page.relative_to(site)}: {url}")
    for css in sorted(site.rglob("*.css")):
        found += [
            f"{css.relative_to(site)}: {u}" for u in CSS.findall(css.read_text(errors="replace"))
        ]
    return found


def main(argv: list[str]) -> int:
    site = pathlib.Path(argv[0] if argv else "reports/out/site")
    if not (site / "index.html").is_file():
        print(f"{site}: no built site (run mkdocs build)", file=sys.stderr)
        return 2
    bad = external_assets(site)
    for line in bad:
        print(f"external asset: {line}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
