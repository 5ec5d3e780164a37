"""``skd-train``: the SKD training pipeline from a YAML config (see ``skd_training.pipeline``).

    skd-train all         --config default                # teachers, soft labels, students, fused model
    skd-train teachers    --config my.yaml --run-dir runs/a
    skd-train soft-labels --config my.yaml --run-dir runs/a
    skd-train students    --config my.yaml --run-dir runs/a
    skd-train fuse        --config my.yaml --run-dir runs/a
    skd-train all --config default --resume               # continue an interrupted run
    skd-train all --config tiny --set students.lam=0.2 --set ablation=O
    torchrun --nproc_per_node 2 -m skd_training.train all --config tiny   # DistributedDataParallel

``--config`` takes a YAML file or the name of a bundled config (``skd-train --list-configs``).
``--set key.sub=value`` overrides any config key (YAML value syntax; list items by index,
``data.train.0.path=...``). Relative paths in a config are relative to the working directory.
"""

from __future__ import annotations

import argparse
import shlex
import sys

import yaml

from skd_ros.core.checkpoint import CheckpointError
from skd_training.config import ConfigError, apply_overrides, bundled_config_names, config_from_dict, read_config_file
from skd_training.data.layouts import DatasetError
from skd_training.engine import setup_distributed, teardown_distributed
from skd_training.pipeline import STAGES, Pipeline
from skd_training.teachers import TeacherError

COMMANDS = {**{stage: (stage,) for stage in STAGES}, "all": STAGES}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skd-train",
        description="Train SKD saliency models: teachers -> soft labels -> students -> fused model (paper Sec. III).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--list-configs", action="store_true", help="list the bundled configs and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    helps = {
        "teachers": "train the built-in teachers (or check external teacher files)",
        "soft-labels": "label every training frame with the teachers",
        "students": "Step 1: distil the spatial and temporal students",
        "fuse": "Step 2: train the fused model from the students; write final/skd_fused_<R>.pt",
        "all": "all four stages in order",
    }
    for name in COMMANDS:
        p = sub.add_parser(name, help=helps[name], description=helps[name])
        p.add_argument("--config", required=True, help="YAML config file or bundled config name (tiny, default)")
        p.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            dest="overrides",
            help="override a config key, e.g. students.lam=0.2 (repeatable)",
        )
        p.add_argument("--run-dir", help="run directory (overrides run_dir)")
        p.add_argument("--seed", type=int, help="random seed (overrides seed)")
        p.add_argument("--device", help="auto, cpu, cuda or cuda:N (overrides device)")
        p.add_argument("--ablation", choices=("none", "S", "T", "O"), help="overrides ablation")
        group = p.add_mutually_exclusive_group()
        group.add_argument("--resume", action="store_true", help="continue from the stages' last checkpoints")
        group.add_argument("--overwrite", action="store_true", help="retrain stages that already have checkpoints")
        p.add_argument("--no-progress", action="store_true", help="no progress bars or per-epoch lines")
        p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    return parser


def _overrides(args) -> list[str]:
    extra = list(args.overrides)
    for key, value in (
        ("run_dir", args.run_dir),
        ("seed", args.seed),
        ("device", args.device),
        ("ablation", args.ablation),
    ):
        if value is not None:
            extra.append(f"{key}={value}")
    if args.no_progress:
        extra.append("progress=false")
    return extra


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list_configs:
        print("\n".join(bundled_config_names()))
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    command = "skd-train " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    try:
        config = config_from_dict(apply_overrides(read_config_file(args.config), _overrides(args)))
        if args.print_config:
            print(yaml.safe_dump(config.to_dict(), sort_keys=False), end="")
            return 0
        env = setup_distributed(config.device)
        try:
            result = Pipeline(config, env, resume=args.resume, overwrite=args.overwrite, command=command).run(
                COMMANDS[args.command]
            )
        finally:
            teardown_distributed()
    except (ConfigError, DatasetError, CheckpointError, TeacherError, FileNotFoundError) as exc:
        print(f"skd-train: error: {exc}", file=sys.stderr)
        return 2
    if env.is_main and result.final_checkpoint is not None:
        print(f"final model: {result.final_checkpoint}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
