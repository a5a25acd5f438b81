"""odhelper doctor: print the stack and prove a model builds and trains one step."""
from __future__ import annotations

NAME = "doctor"
HELP = "check the TensorFlow / OD API stack: versions, GPUs, compat fixes, one training step"


def add_arguments(parser) -> None:
    parser.add_argument("--no-build", action="store_true",
                        help="skip building a model and taking a training step")


def options_class():
    return None  # flags of their own (add_arguments)


def run(args) -> int:
    from odhelper import doctor, log

    with log.stage("Doctor", "check") as stage:
        report = doctor.check(smoke_steps=0 if args.no_build else 1)
        stage.extra["ok"] = report.ok
    for name, version in report.versions.items():
        log.info("%-24s %s", name, version)
    log.info("%-24s %s", "GPUs", ", ".join(report.gpus) or "none (CPU only)")
    log.info("%-24s %s", "compat fixes applied", ", ".join(report.fixes_applied) or "none")
    log.info("%-24s %s", "compat fixes not needed", ", ".join(report.fixes_not_needed) or "none")
    if report.smoke_losses:
        log.info("%-24s ssd_mobilenet_v2 built, loss %s", "one training step",
                 ", ".join(f"{v:.3f}" for v in report.smoke_losses))
    for problem in report.problems:
        log.error("%s", problem)
    if not report.ok:
        log.error("The stack is broken. Re-run scripts/setup.sh; see README.md, Troubleshooting.")
        return 1
    log.info("Stack OK")
    return 0
