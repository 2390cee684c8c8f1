"""``workbench report``: executed notebooks as self-contained offline HTML, with an index page."""

from __future__ import annotations

import argparse

NAME = "report"
HELP = "export executed notebooks (e.g. a study folder) to offline HTML reports with an index page"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", required=True, help="a study output folder or any folder of executed notebooks")
    parser.add_argument("--out", required=True, help="folder for the HTML reports and index.html")
    parser.add_argument("--no-input", action="store_true", help="hide code cells (outputs only)")
    parser.add_argument("--title", default=None, help="title of the index page")
    parser.add_argument("--no-thumbnails", action="store_true",
                        help="index without thumbnails of each run's first figure (drawn with chromium otherwise)")


def run(args: argparse.Namespace) -> int:
    from workbench.reports import build_reports

    index = build_reports(args.runs, args.out, no_input=args.no_input, title=args.title,
                          thumbnails=not args.no_thumbnails)
    print(f"report: {index}")
    return 0
