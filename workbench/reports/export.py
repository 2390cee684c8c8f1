"""Export one executed notebook to a self-contained HTML file that renders with no network.

The ``lab`` template is used without what it would fetch from a CDN (require.js, the widget
manager, MathJax, mermaid); :mod:`workbench.reports.preprocessors` inline widget outputs and
embed plotly.js; text progress bars are collapsed to their last state.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import jinja2
import nbformat

from workbench.utils.io import write_text_atomic

__all__ = ["OFFLINE_TEMPLATE", "SHARED_PLOTLYJS", "html_exporter", "export_html", "write_plotlyjs"]

OFFLINE_TEMPLATE = "workbench_offline.html.j2"
SHARED_PLOTLYJS = "plotly.min.js"
"""The one plotly.js of a report folder (the pages load it by relative path: still offline)."""
_TEMPLATE_SOURCE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


def html_exporter(no_input: bool = False, shared_js: str = ""):
    """An nbconvert HTMLExporter for offline reports; ``no_input`` hides code cells and prompts;
    ``shared_js``: load plotly.js from that file beside the page instead of embedding it."""
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor
    from traitlets.config import Config

    from workbench.reports.preprocessors import InlineWidgetOutputs, PlotlyToHTML

    config = Config()
    config.TemplateExporter.exclude_input = no_input
    config.TemplateExporter.exclude_input_prompt = no_input
    config.TemplateExporter.exclude_output_prompt = no_input
    exporter = HTMLExporter(config=config, template_name="lab", template_file=OFFLINE_TEMPLATE,
                            extra_loaders=[jinja2.DictLoader({OFFLINE_TEMPLATE: _TEMPLATE_SOURCE})])
    exporter.register_preprocessor(CoalesceStreamsPreprocessor(enabled=True), enabled=True)
    exporter.register_preprocessor(InlineWidgetOutputs(), enabled=True)
    exporter.register_preprocessor(PlotlyToHTML(shared_js=shared_js), enabled=True)
    return exporter


def export_html(notebook_path: str | os.PathLike, html_path: str | os.PathLike, no_input: bool = False,
                title: str | None = None, shared_js: str = "") -> Path:
    """Write ``notebook_path`` as offline HTML to ``html_path`` (atomically); returns ``html_path``.
    ``shared_js``: a plotly.js file name beside ``html_path`` (see :func:`write_plotlyjs`); empty: embedded."""
    nb = nbformat.read(Path(notebook_path), as_version=4)
    if title:
        nb.metadata["title"] = title
    body, _ = html_exporter(no_input, shared_js).from_notebook_node(nb, resources={"metadata": {"name": Path(notebook_path).stem}})
    if shared_js:  # a folder of reports: the JupyterLab stylesheets too go beside the pages, once
        body = _share_stylesheets(body, Path(html_path).parent)
    return write_text_atomic(html_path, body)


_STYLE = re.compile(r'<style type="text/css">(.*?)</style>', re.S)


def _share_stylesheets(page: str, folder: Path, min_chars: int = 20_000) -> str:
    """Replace each large inline stylesheet of ``page`` (JupyterLab's index / theme CSS, ~260 kB a
    page) by a link to ``folder/report-<sha>.css``, written once (content-addressed, so pages of
    another nbconvert version never share a wrong file); small page-specific styles stay inline."""
    def share(match: re.Match) -> str:
        css = match.group(1)
        if len(css) < min_chars:
            return match.group(0)
        name = f"report-{hashlib.sha256(css.encode()).hexdigest()[:12]}.css"
        if not (folder / name).is_file():
            write_text_atomic(folder / name, css)
        return f'<link rel="stylesheet" href="{name}">'

    return _STYLE.sub(share, page)


def write_plotlyjs(folder: str | os.PathLike, name: str = SHARED_PLOTLYJS) -> Path:
    """Write the installed plotly's plotly.js to ``folder/name`` (atomically), for pages exported with
    ``shared_js=name``."""
    from plotly.offline import get_plotlyjs

    return write_text_atomic(Path(folder) / name, get_plotlyjs())
