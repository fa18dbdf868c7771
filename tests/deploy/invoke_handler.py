"""Test driver for the plain Python handler, the twin of js/invoke_entry.mjs for the Pyodide entry.

`python invoke_handler.py <function dir>` reads a JSON array of [event, context] pairs on stdin, imports
handler.py in this fresh interpreter (its start-up runs, as in a new execution environment), calls it with
each pair and prints `RESULTS <json array of responses>` as its last line. Log lines come before it.
"""

import json
import sys


def main() -> None:
    sys.path.insert(0, sys.argv[1])
    import handler

    calls = json.load(sys.stdin)
    results = [handler.handler(event, context) for event, context in calls]
    sys.stdout.write(f"\nRESULTS {json.dumps(results)}\n")


if __name__ == "__main__":
    main()
