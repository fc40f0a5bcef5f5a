#!/usr/bin/env bash
# Run the benchmarks whose figures README.md quotes. Results: bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
python bench/image_build_rerun.py "$@"
python bench/deploy_bench.py
python bench/edge_bench.py
python bench/mtail_socket_bench.py
python bench/backup_bench.py
python bench/swarm_bench.py
