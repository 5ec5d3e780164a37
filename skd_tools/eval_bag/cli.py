"""The command line of skd-eval-bag: check the inputs, run the offline evaluation and, with ``--live``,
the live replay, then print, save and plot what they found."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from skd_ros.core.postprocess import ROIParams
from skd_tools.eval_bag.live import MONO8_STEP, evaluate_live
from skd_tools.eval_bag.offline import (
    DEFAULT_NODE_NAME,
    EvalSettings,
    check_inputs,
    default_output,
    evaluate_offline,
    make_estimator,
)
from skd_tools.eval_bag.report import format_summary, plot_report, strict_json
from skd_training.data.rosbag import BagError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skd-eval-bag",
        description="Run the SKD saliency node's processing over a rosbag2 (sqlite3 or mcap), write its outputs "
        "to a new bag and score them against ground-truth maps in the bag; --live also replays the bag to a "
        "running node and compares latency, drops and outputs.",
    )
    parser.add_argument("bag", help="rosbag2 directory (or a .db3/.mcap file)")
    parser.add_argument("--image-topic", required=True, help="sensor_msgs/Image or CompressedImage topic")
    parser.add_argument("--gt-topic", help="ground-truth density maps (images with the same header stamps)")
    parser.add_argument("--fixation-topic", help="ground-truth binary fixation maps (images), for NSS and AUC")
    parser.add_argument("--out", help="output bag (default: <bag>_saliency beside the input; must not exist)")
    parser.add_argument("--storage", choices=("sqlite3", "mcap"), help="output storage (default: the input's)")
    parser.add_argument("--summary", help="write the summary as JSON to this file")
    parser.add_argument("--plot", help="write a PNG of per-frame times, metrics and live latency")
    model = parser.add_argument_group("model and outputs (the node's parameters of the same names)")
    model.add_argument("--weights", help="fused-model checkpoint (default: the shipped weights)")
    model.add_argument("--resolution", type=int, help="model input size (default: the checkpoint's)")
    model.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: %(default)s)")
    model.add_argument("--backend", default="auto", help="inference backend (default: %(default)s, the fastest)")
    model.add_argument("--saliency-encoding", choices=("mono8", "32FC1"), default="mono8")
    model.add_argument("--saliency-full-size", action="store_true", help="saliency at the input size")
    model.add_argument("--max-rois", type=int, default=ROIParams.max_rois)
    model.add_argument("--roi-peak-floor", type=float, default=ROIParams.peak_floor)
    model.add_argument("--roi-threshold", type=float, default=ROIParams.rel_threshold)
    model.add_argument("--roi-min-contrast", type=float, default=ROIParams.min_contrast)
    model.add_argument("--roi-merge-radius", type=int, default=ROIParams.merge_radius)
    model.add_argument("--roi-min-score", type=float, default=ROIParams.min_score)
    model.add_argument("--node-name", default=DEFAULT_NODE_NAME, help="output topics are /<node-name>/...")
    live = parser.add_argument_group("live replay")
    live.add_argument("--live", action="store_true", help="also replay the bag to the node and compare")
    live.add_argument("--rate", type=float, default=1.0, help="replay speed x recorded (0: as fast as possible)")
    live.add_argument("--live-out", help="bag for the node's outputs (default: <out>_live)")
    live.add_argument("--domain-id", type=int, help="ROS_DOMAIN_ID for the replay (default: the environment's)")
    live.add_argument("--tolerance", type=float, default=MONO8_STEP, help="max |live - offline| (default: 1/255)")
    live.add_argument("--startup-timeout", type=float, default=120.0, help="seconds to wait for the node")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        settings = EvalSettings(
            weights=args.weights,
            resolution=args.resolution,
            device=args.device,
            backend=args.backend,
            roi_params=ROIParams(
                max_rois=args.max_rois,
                peak_floor=args.roi_peak_floor,
                rel_threshold=args.roi_threshold,
                min_contrast=args.roi_min_contrast,
                merge_radius=args.roi_merge_radius,
                min_score=args.roi_min_score,
            ),
            saliency_encoding=args.saliency_encoding,
            saliency_full_size=args.saliency_full_size,
            node_name=args.node_name,
        )
        bag = Path(args.bag)
        outputs = [Path(args.out) if args.out else default_output(bag)]
        if args.live:
            outputs.append(Path(args.live_out) if args.live_out else outputs[0].with_name(f"{outputs[0].name}_live"))
        check_inputs(bag, args.image_topic, [t for t in (args.gt_topic, args.fixation_topic) if t], outputs)
        estimator = make_estimator(settings)  # after the checks: loading the model and racing backends takes a while
        run = evaluate_offline(
            args.bag, args.image_topic, estimator, settings, out=args.out, gt_topic=args.gt_topic,
            fixation_topic=args.fixation_topic, storage=args.storage, keep_outputs=args.live,
        )  # fmt: skip
        summary = run.summary
        if args.live and summary["complete"]:
            summary["live"] = evaluate_live(
                args.bag, args.image_topic, run, estimator, settings, out=outputs[1], rate=args.rate,
                domain_id=args.domain_id, tolerance=args.tolerance, startup_timeout=args.startup_timeout,
            )  # fmt: skip
    except (BagError, FileExistsError, ValueError, RuntimeError) as exc:
        print(f"skd-eval-bag: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("skd-eval-bag: interrupted during the live replay (the node was stopped)", file=sys.stderr)
        return 130
    print(format_summary(summary))
    if args.summary:
        Path(args.summary).write_text(json.dumps(strict_json(summary), indent=2))
        print(f"summary written to {args.summary}")
    if args.plot:
        plot_report(run, args.plot)
        print(f"plot written to {args.plot}")
    if summary["interrupted"]:
        return 130
    if not summary["complete"] or (summary.get("live") and not summary["live"]["agreement"]["agree"]):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
