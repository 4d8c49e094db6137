"""A real multi-node Ray cluster on one machine (one raylet per node), for trying --address locally, tests and
benchmarks. Prints the address, then runs until its standard input closes, and stops only its own processes.

    RAY_AUTH_MODE=token RAY_AUTH_TOKEN=... python -m tuning.local_cluster --nodes 2 --cpus-per-node 1
"""
from __future__ import annotations

import argparse
import sys


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nodes", type=int, default=2)
    p.add_argument("--cpus-per-node", type=int, default=1)
    args = p.parse_args()
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, connect=False, head_node_args={"num_cpus": args.cpus_per_node})
    try:
        for _ in range(args.nodes - 1):
            cluster.add_node(num_cpus=args.cpus_per_node)
        cluster.wait_for_nodes()
        print(cluster.address, flush=True)
        sys.stdin.read()  # until the caller closes our stdin (or exits)
    finally:
        cluster.shutdown()


if __name__ == "__main__":
    main()
