"""Formulas as MathML, written at build time: no script, no CDN.

Sphinx's default HTML math renderer, MathJax, is a script that the reader's
browser loads from a CDN, so pages read offline (or built offline and opened
from disk) show raw TeX. This renderer converts each formula with
``latex2mathml`` while the pages are built; browsers draw MathML themselves
(MathML Core), online and offline alike. Selected in ``conf.py`` with
``html_math_renderer = "mathml"``.
"""

from docutils import nodes
from latex2mathml.converter import convert

# latex2mathml writes \sim as the ASCII tilde, which browsers draw as an
# accent-like "~"; the relation is U+223C.
_FIXES = {"<mi>&#x0007E;</mi>": "<mo>&#x0223C;</mo>"}


def to_mathml(latex, display):
    try:
        mathml = convert(latex.strip(), display=display)
    except Exception as exc:  # noqa: BLE001  latex2mathml raises many kinds
        raise ValueError(f"cannot render the formula {latex!r}: {exc}") from exc
    for old, new in _FIXES.items():
        mathml = mathml.replace(old, new)
    return mathml


def visit_math(self, node):
    mathml = to_mathml(node.astext(), "inline")
    self.body.append(f'<span class="math notranslate">{mathml}</span>')
    raise nodes.SkipNode


def visit_displaymath(self, node):
    # One block may hold several equations, separated by blank lines.
    parts = [p for p in node.astext().split("\n\n") if p.strip()]
    self.body.append(self.starttag(node, "div", CLASS="math notranslate"))
    for latex in parts:
        self.body.append(to_mathml(latex, "block"))
    self.body.append("</div>\n")
    raise nodes.SkipNode


def setup(app):
    app.add_html_math_renderer(
        "mathml",
        inline_renderers=(visit_math, None),
        block_renderers=(visit_displaymath, None),
    )
    return {"parallel_read_safe": True, "parallel_write_safe": True}
