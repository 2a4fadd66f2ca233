#!/bin/sh
# Runs the MCP conformance suite's `authorization` command against Postern; see run.py.
exec python3 "$(dirname "$0")/run.py" "$@"
