"""odhelper zoo list|download: the models odhelper knows and their zoo checkpoints."""
from __future__ import annotations

NAME = "zoo"
HELP = "list models / download (and cache) a TF2 model-zoo checkpoint"


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="zoo_command", metavar="list|download", required=True)
    sub.add_parser("list", help="models, input sizes, checkpoints and cache state")
    download = sub.add_parser("download", help="download, verify and extract a checkpoint")
    download.add_argument("model", help="model name")
    download.add_argument("--checkpoint", help="use this local .tar.gz or folder instead")


def _list() -> int:
    from odhelper.pipeline import registry, zoo

    print(f"{'model':26} {'input':9} {'cached':7} checkpoint")
    for spec in registry.MODELS.values():
        size = "x".join(map(str, spec.input_size))
        state = "yes" if zoo.cached(spec) else ("-" if spec.checkpoint else "n/a")
        print(f"{spec.name:26} {size:9} {state:7} {spec.url or '(from scratch only)'}")
    print(f"cache: {zoo.cache_dir()}")
    return 0


def options_class():
    return None  # flags of their own (add_arguments)


def run(args) -> int:
    from odhelper.pipeline import registry, zoo

    if args.zoo_command == "list":
        return _list()
    spec = registry.get(args.model)
    prefix = zoo.local(args.checkpoint) if args.checkpoint else zoo.download(spec)
    print(prefix)
    return 0
