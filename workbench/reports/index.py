"""The report index: one section per notebook (its title and purpose), each a table linking its runs,
named by the parameters that vary between them, with a thumbnail of the run's first figure and its
headline numbers (at most :data:`MAX_HEADLINES` recorded results; the rest are on the run's page), so
no table mixes the columns of different notebooks and none is wider than the page."""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from workbench.reports.runs import ReportRun
from workbench.utils.io import write_text_atomic

__all__ = ["index_html", "write_index", "run_name", "MAX_HEADLINES"]

MAX_HEADLINES = 6

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; font-size: 14px; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: left; }
th { background: #f4f4f4; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.failed td { background: #fff0f0; }
.muted { color: #777; }
div.wide { max-width: 100%; overflow-x: auto; }
section p.purpose { max-width: 60rem; }
img.thumb { width: 200px; border: 1px solid #ddd; display: block; }
td.run { min-width: 10rem; max-width: 20rem; overflow-wrap: anywhere; }
th { font-size: 13px; }
td.run small { color: #777; display: block; }
"""


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def _is_headline(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float)) or (isinstance(value, str) and len(value) <= 40)


def _columns(runs: Sequence[ReportRun]) -> tuple[list[str], list[str]]:
    """Parameters that differ between runs (none for a lone run: it is named by its id) and up to
    :data:`MAX_HEADLINES` scalar results (numbers first), in first-seen order."""
    params: list[str] = []
    results: list[str] = []
    for run in runs:
        params += [k for k in run.parameters if k not in params]
        results += [k for k, v in run.results.items() if k not in results and _is_headline(v)]
    params = [k for k in params if len({repr(r.parameters.get(k)) for r in runs}) > 1]  # a lone run: none vary
    numeric = [k for k in results if any(isinstance(r.results.get(k), (int, float)) for r in runs)]
    return params, (numeric or results)[:MAX_HEADLINES]


def _header(name: str) -> str:
    """A column name that may wrap after its underscores (``best_threshold_multilabel``)."""
    return "_<wbr>".join(html.escape(part) for part in name.split("_"))


def run_name(run: ReportRun, varying: Sequence[str]) -> str:
    """A run named by its parameters that vary between the section's runs (``key=value, ...``);
    the run id when none vary."""
    parts = [f"{k}={_fmt(run.parameters.get(k))}" for k in varying if k in run.parameters]
    return ", ".join(parts) or run.run_id


def _cell(value: Any) -> str:
    cls = ' class="num"' if isinstance(value, (int, float)) and not isinstance(value, bool) else ""
    return f"<td{cls}>{html.escape(_fmt(value))}</td>"


def _table(runs: Sequence[ReportRun], links: Mapping[str, str], thumbs: Mapping[str, str]) -> str:
    """One table: a row per run (thumbnail, its name linking to its report, state, headline results)."""
    params, results = _columns(runs)
    shots = any(r.run_id in thumbs for r in runs)
    head = "".join(f"<th>{_header(c)}</th>" for c in [*(["figure"] if shots else []), "run", "state", *results])
    rows = []
    for run in runs:
        link = links.get(run.run_id)
        plain = run_name(run, params)
        name = html.escape(plain)
        label = f'<a href="{html.escape(link)}">{name}</a>' if link else name
        ident = "" if plain == run.run_id else f"<small>{html.escape(run.run_id)}</small>"
        first = f'<td class="run">{label}{ident}</td>'
        thumb = ""
        if shots:
            img = f'<img class="thumb" src="{html.escape(thumbs[run.run_id])}" alt="first figure of {name}">' \
                if run.run_id in thumbs else ""
            thumb = f'<td><a href="{html.escape(link)}">{img}</a></td>' if link and img else f"<td>{img}</td>"
        state = f'<td title="{html.escape(run.error)}">{html.escape(run.state)}</td>'
        cells = "".join(_cell(run.results.get(k)) for k in results)
        rows.append(f'<tr class="{html.escape(run.state)}">{thumb}{first}{state}{cells}</tr>')
    return f"<div class=\"wide\"><table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"


def index_html(runs: Sequence[ReportRun], links: Mapping[str, str], title: str,
               thumbs: Mapping[str, str] | None = None) -> str:
    """The index page: a section per notebook title (sorted: "01 · ..." before "02 · ..."; untitled
    notebooks last) with its purpose and its runs' table; ``thumbs`` maps run ids to thumbnail paths."""
    groups: dict[str, list[ReportRun]] = {}
    for run in sorted(runs, key=lambda r: (not r.title, r.title)):
        groups.setdefault(run.title or "Other notebooks", []).append(run)
    sections = "".join(f"<section><h2>{html.escape(name)}</h2><p class=\"purpose\">{html.escape(members[0].purpose)}</p>"
                       f"<p class=\"muted\">{len(members)} run{'s' if len(members) != 1 else ''}</p>"
                       f"{_table(members, links, thumbs or {})}</section>"
                       for name, members in groups.items())
    failed = [r for r in runs if r.state != "done"]
    errors = "".join(f"<li><b>{html.escape(r.run_id)}</b>: {html.escape(r.error or r.state)}</li>" for r in failed)
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
            f"<p class=\"muted\">{len(runs)} runs of {len(groups)} notebooks, {len(failed)} failed. Per notebook: its "
            f"purpose, then its runs, named by the parameters that vary between them, with their first figure and "
            f"headline results (every result is on the run's page).</p>{sections}"
            + (f"<h2>Failed runs</h2><ul>{errors}</ul>" if failed else "") + "</body></html>\n")


def write_index(out_dir: str | os.PathLike, runs: Sequence[ReportRun], links: Mapping[str, str],
                title: str = "Workbench report", thumbs: Mapping[str, str] | None = None) -> Path:
    """Write ``OUT/index.html`` atomically; ``links`` / ``thumbs`` map run ids to report pages /
    thumbnails, paths relative to OUT."""
    return write_text_atomic(Path(out_dir) / "index.html", index_html(runs, links, title, thumbs))
