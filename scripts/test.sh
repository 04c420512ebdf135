#!/usr/bin/env bash
# Install everything the tests need, then run them. Used by CI (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
python3 -m pip install -q --disable-pip-version-check -e '.[test,notify]'
ruff format --check camwatch tui themes tests bench
ruff check camwatch tui themes tests bench
python3 -m pytest -q -p no:cacheprovider "$@"
