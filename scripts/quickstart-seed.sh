#!/usr/bin/env bash
# Creates the quickstart's data folder beside examples/quickstart.yaml if missing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)/examples/quickstart-data"
mkdir -p "$root/assets"
if [ ! -f "$root/assets/readme.txt" ]; then
  echo "megasync quickstart asset" > "$root/assets/readme.txt"
fi
