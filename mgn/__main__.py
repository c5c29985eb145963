"""Command line of the book: ``python -m mgn execute | build | baselines | mutations``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mgn.book.layout import MODES, Layout
from mgn.book.mutation_catalogue import MUTATIONS


def parser() -> argparse.ArgumentParser:
    """The command line's arguments (each command's help says what it does)."""
    main_parser = argparse.ArgumentParser(prog="python -m mgn", description=__doc__)
    commands = main_parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("execute", help="execute notebooks with papermill")
    run.add_argument("notebooks", nargs="*", help="notebook paths or stems (default: all)")
    run.add_argument("--cell-timeout", type=int, default=1800, help="seconds per cell")
    run.add_argument(
        "--force",
        action="store_true",
        help="execute every chosen notebook even when its cached execution is still valid",
    )
    run.add_argument(
        "--replicate",
        type=int,
        default=0,
        help="k > 0: every notebook's seed shifted by k, run under _build/replicates/ "
        "(the spread of such runs sets the baselines' tolerances)",
    )
    make = commands.add_parser("build", help="build the HTML book from the executed notebooks")
    base = commands.add_parser("baselines", help="rewrite the regression baselines from results")
    base.add_argument("notebooks", nargs="*", help="notebook stems (default: every result)")
    base.add_argument(
        "--replicates",
        type=int,
        default=0,
        help="K >= 2: tolerances from the spread over the seeds of this run and of replicates "
        "1..K (`execute --replicate k`)",
    )
    for sub in (run, make, base):
        sub.add_argument("--mode", choices=MODES, default="paper")
    mutate = commands.add_parser(
        "mutations",
        help="plant each regression of the catalogue in a copy of mgn, execute the chapters it "
        "affects in smoke mode, report what caught it (slow)",
    )
    mutate.add_argument(
        "--only",
        nargs="+",
        choices=[m.name for m in MUTATIONS],
        metavar="NAME",
        help="run only these mutations (their names: mgn/book/mutation_catalogue.py)",
    )
    mutate.add_argument("--cell-timeout", type=int, default=1800, help="seconds per cell")
    mutate.set_defaults(mode="smoke")
    for sub in (run, make, base, mutate):
        sub.add_argument("--root", type=Path, default=Path.cwd(), help="repository root")
    return main_parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    layout = Layout(args.root.resolve(), args.mode, getattr(args, "replicate", 0))
    # Each command imports its part of the runner (papermill, nbformat, ...) only when it runs,
    # so that `--help` answers at once.
    if args.command == "execute":
        from mgn.book.execute import ParameterError, execute

        try:
            failures = execute(
                layout, args.notebooks, cell_timeout=args.cell_timeout, force=args.force
            )
        except (ParameterError, FileNotFoundError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        if failures:
            print(f"\n{len(failures)} notebook(s) failed:", file=sys.stderr)
            for failure in failures:
                print(f"  {failure}", file=sys.stderr)
            print(f"  (executed copies in {layout.failed})", file=sys.stderr)
            return 1
        return 0
    if args.command == "mutations":
        from mgn.book.mutations import run_mutations, uncaught

        chosen = [m for m in MUTATIONS if not args.only or m.name in args.only]
        missed = uncaught(run_mutations(layout.root, chosen, cell_timeout=args.cell_timeout))
        if missed:
            print(f"not caught: {', '.join(missed)}", file=sys.stderr)
        return 1 if missed else 0
    if args.command == "build":
        from mgn.book.build import build

        print(f"book: {build(layout) / 'index.html'}")
        return 0
    from mgn.book.baselines import write_baselines

    replicates = [
        Layout(layout.root, layout.mode, k).results for k in range(1, args.replicates + 1)
    ]
    for path in write_baselines(layout, args.notebooks, replicates):
        print(f"wrote {path.relative_to(layout.root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
