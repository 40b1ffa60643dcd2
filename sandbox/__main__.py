"""`python -m sandbox [--host H] [--port N] [--config FILE.json] [--seed S]`: serve the sandbox here."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sandbox.config import SandboxConfig
from sandbox.serve import main


def parse(argv: list[str] | None = None) -> tuple[str, int, SandboxConfig]:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--config", type=Path, help="a JSON document of SandboxConfig fields")
    parser.add_argument("--seed", type=int, help="overrides the configuration's seed")
    args = parser.parse_args(argv)
    config = SandboxConfig()
    if args.config is not None:
        try:
            config = SandboxConfig.model_validate(json.loads(args.config.read_text()))
        except (OSError, ValueError) as exc:
            parser.error(f"--config {args.config}: {exc}")
    if args.seed is not None:
        config = config.merged({"seed": args.seed})
    return args.host, args.port, config


if __name__ == "__main__":
    host, port, config = parse()
    main(host, port, config)
