"""skd-reliability: the fuzz and fault suite of issue #20 in one command, written up as docs/RELIABILITY.md with
its figures. ``--messages`` and ``--soak`` set the sizes the issue names; ``--quick`` is a few minutes' run.

The live node runs in its own ROS domain (random unless ``--domain-id``), discovery kept on this host."""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import shlex
import sys
import tempfile
from pathlib import Path

from skd_tools.reliability.report import headline, verdicts, write_report
from skd_tools.reliability.suite import PARTS, Sizes, run_suite

REPO_DOCS = Path("docs")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skd-reliability",
        description="Fuzz the image decoding, the frame pairing and a live saliency node with generated bad input, "
        "header anomalies, parameter changes and lifecycle transitions, soak the node, damage bags, checkpoints and "
        "exported models; write docs/RELIABILITY.md and docs/figures/reliability_*.png.",
    )
    parser.add_argument("--messages", type=int, help="generated messages per input kind (default 10000; quick 1000)")
    parser.add_argument("--soak", type=int, help="frames in the node's soak (default 20000; quick 2000)")
    parser.add_argument("--quick", action="store_true", help="small sizes throughout: a few minutes")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS), help="what to run (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--doc", type=Path, default=REPO_DOCS / "RELIABILITY.md", help="the report (Markdown)")
    parser.add_argument("--figures", type=Path, default=REPO_DOCS / "figures", help="folder for the figures")
    parser.add_argument("--workdir", type=Path, help="node logs and damaged files (default: a temporary folder)")
    parser.add_argument("--domain-id", type=int, help="ROS_DOMAIN_ID for the node and the driver (default: random)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sizes = Sizes.quick() if args.quick else Sizes()
    if args.messages is not None:
        sizes = dataclasses.replace(sizes, messages=args.messages)
    if args.soak is not None:
        sizes = sizes.with_soak(args.soak)
    os.environ["ROS_DOMAIN_ID"] = str(args.domain_id if args.domain_id is not None else random.randint(1, 100))
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    with tempfile.TemporaryDirectory(prefix="skd_reliability_") as scratch:
        workdir = args.workdir or Path(scratch)
        result = run_suite(sizes, workdir, args.seed, tuple(args.parts), lambda line: print(line, flush=True))
        command = " ".join(["skd-reliability", *map(shlex.quote, argv if argv is not None else sys.argv[1:])])
        written = write_report(result, args.doc, args.figures, command)
    print(headline(result))
    print("written: " + ", ".join(map(str, written)))
    return 0 if all(verdict.met for verdict in verdicts(result)) else 1


if __name__ == "__main__":
    sys.exit(main())
