"""Render the built HTML pages in headless Chromium and check how they look.

Usage::

    python docs/check_rendering.py docs/_build/html [--screenshots DIR]

Each page is opened from disk (no network, as an offline reader would) at a
laptop's width, 1366 CSS pixels, with a small script that measures the laid-out
page and writes its findings into the DOM, which Chromium then dumps. No
browser driver is needed, only a Chromium or Chrome binary. Checked:

- code blocks: no line wider than its block (nothing cut off);
- formulas: drawn (MathML with a size), and no raw TeX left in the text;
- sidebars: no empty "Section Navigation"; one table of contents per page
  (the right sidebar's), names in the right sidebar not cut;
- figures: shown at three quarters or more of their own width, so the text
  in them stays legible;
- the gallery: the main example first.

With ``--screenshots`` it also saves a full-height screenshot of each page,
to look at. Exit status 1 if any check fails.
"""

import argparse
import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

WIDTH, HEIGHT = 1366, 900
PAGES = [
    "index.html",
    "quickstart.html",
    "user_guide.html",
    "benchmarks.html",
    "api.html",
    "generated/sklearn_ali.ALITransformer.html",
    "auto_examples/index.html",
    "auto_examples/plot_semi_supervised_mnist.html",
    "auto_examples/plot_samples_reconstructions.html",
    "auto_examples/plot_onnx_export.html",
]
FIRST_EXAMPLE = "plot_semi_supervised_mnist"

# Measures the laid-out page (check_rendering.js beside this file).
PROBE = f"<script>{Path(__file__).with_suffix('.js').read_text()}</script>"


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def chromium_args(chromium, *extra, height=HEIGHT):
    return [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--allow-file-access-from-files",
        "--virtual-time-budget=5000",
        f"--window-size={WIDTH},{height}",
        *extra,
    ]


def measure(chromium, page):
    """The probe's report on ``page`` (a built HTML file)."""
    text = page.read_text(encoding="utf-8")
    with tempfile.NamedTemporaryFile(
        "w", suffix=".html", dir=page.parent, delete=False, encoding="utf-8"
    ) as probed:
        probed.write(text.replace("</body>", PROBE + "</body>", 1))
    try:
        done = subprocess.run(
            chromium_args(chromium, "--dump-dom", Path(probed.name).as_uri()),
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        Path(probed.name).unlink()
    # The last match: the script's own text names the element too.
    found = re.findall(
        r'<pre id="rendering-report"[^>]*>(\{.*?)</pre>', done.stdout, re.S
    )
    if not found:
        return {"problems": [["no report", done.stderr[-300:]]], "counts": {}}
    return json.loads(html.unescape(found[-1]))


def screenshot(chromium, page, out):
    # Tall enough for most pages' first screens; the width is the one measured.
    subprocess.run(
        chromium_args(chromium, f"--screenshot={out}", page.as_uri(), height=3000),
        capture_output=True,
        timeout=120,
    )


def check(build, screenshots=None):
    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("no Chromium or Chrome binary on PATH")
    failures = 0
    for name in PAGES:
        page = Path(build, name).resolve()
        if not page.is_file():
            print(f"{name}: missing")
            failures += 1
            continue
        report = measure(chromium, page)
        problems = report["problems"]
        if name == "auto_examples/index.html":
            thumbs = report.get("thumbnails", [])
            if not thumbs or FIRST_EXAMPLE not in thumbs[0]:
                problems.append(["gallery order", f"first: {thumbs[:1]}"])
        counts = ", ".join(f"{k} {v}" for k, v in report["counts"].items())
        print(f"{name}: {'ok' if not problems else 'FAIL'} ({counts})")
        for kind, what in problems:
            print(f"    {kind}: {what}")
        failures += bool(problems)
        if screenshots:
            Path(screenshots).mkdir(parents=True, exist_ok=True)
            out = Path(screenshots, name.replace("/", "_").replace(".html", ".png"))
            screenshot(chromium, page, out.resolve())
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("build", help="the HTML build folder")
    parser.add_argument("--screenshots", help="folder for one PNG per page")
    args = parser.parse_args()
    sys.exit(1 if check(args.build, args.screenshots) else 0)


if __name__ == "__main__":
    main()
