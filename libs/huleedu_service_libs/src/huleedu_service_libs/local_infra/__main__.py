"""`python -m huleedu_service_libs.local_infra up|down|status|env`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from huleedu_service_libs.local_infra.launcher import Endpoints, InfraError, LocalInfra


def print_health(endpoints: Endpoints) -> None:
    print("Local infrastructure is healthy:")
    for name, address in (
        ("postgres", endpoints.postgres_url),
        ("redis", endpoints.redis_url),
        ("kafka", endpoints.kafka_bootstrap_servers),
    ):
        owner = "started here" if name in endpoints.started else "already running"
        print(f"  {name:<9} {address}  ({endpoints.sources.get(name, '?')}; {owner})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="local_infra", description=__doc__)
    parser.add_argument("command", choices=["up", "down", "status", "env"])
    parser.add_argument("--state-dir", type=Path, default=Path(".local/infra"))
    args = parser.parse_args(argv)
    infra = LocalInfra(args.state_dir)
    try:
        if args.command == "up":
            print_health(infra.up())
        elif args.command == "down":
            stopped = infra.down()
            print("Stopped: " + (", ".join(stopped) if stopped else "nothing (none was ours)"))
        elif args.command == "status":
            endpoints = infra.status()
            if endpoints is None:
                print("Local infrastructure is not running (run `make run`).")
                return 1
            print_health(endpoints)
        else:
            endpoints = infra.up()
            print(f"export DATABASE_URL='{endpoints.postgres_url}'")
            print(f"export REDIS_URL='{endpoints.redis_url}'")
            print(f"export KAFKA_BOOTSTRAP_SERVERS='{endpoints.kafka_bootstrap_servers}'")
    except InfraError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
