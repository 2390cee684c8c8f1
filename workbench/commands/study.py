"""``workbench study``: run a grid of parameter sets through a notebook (papermill), resumably."""

from __future__ import annotations

import argparse

from workbench.utils.cli_types import at_least

NAME = "study"
HELP = "run a study grid of notebook runs (papermill) and aggregate their recorded results"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="study YAML, e.g. studies/tiny.yaml")
    parser.add_argument("--out", default=None, help="output folder (default: the config's `output`)")
    parser.add_argument("--workers", type=at_least(1), default=None, help="local worker processes (default: the config's)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="run on a Dask distributed cluster, e.g. tcp://10.0.0.5:8786")
    parser.add_argument("--force", action="store_true", help="run again runs that already finished")
    parser.add_argument("--dry-run", action="store_true", help="list the runs and exit")


def run(args: argparse.Namespace) -> int:
    from workbench.studies.config import load_study
    from workbench.studies.grid import plan_study, run_study

    config = load_study(args.config, output=args.out)
    if args.dry_run:
        todo, skipped = plan_study(config, force=args.force)
        for task in todo + skipped:
            print(f"{'skip' if task in skipped else 'run '} {task.run_id}  {dict(task.parameters)}")
        print(f"{len(todo)} to run, {len(skipped)} finished, output {config.output}")
        return 0
    if args.scheduler:
        from distributed import Client

        with Client(args.scheduler) as client:
            outcome = run_study(config, executor=client.get_executor(), force=args.force)
    else:
        outcome = run_study(config, workers=args.workers, force=args.force)
    print(f"study {config.name}: {len(outcome.ran)} ran, {len(outcome.skipped)} skipped (finished), "
          f"{len(outcome.failed)} failed")
    for run_id in outcome.failed:
        row = outcome.table.set_index("run_id").loc[run_id]
        print(f"  failed {run_id}: {row['error']}")
    print(f"results: {outcome.table_path}")
    return 1 if outcome.failed else 0
