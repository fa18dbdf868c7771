"""Benchmark driver for the Python handler, run in a fresh interpreter like a Lambda execution environment.

`cold`: import the handler, answer one request, print RESPONSE <status>.
`warm N`: call the handler N times in-process and print the mean microseconds per call.
Log lines go to /dev/null, as they would leave the process in Lambda.
"""

import json
import os
import sys
import time


def main() -> None:
    mode, function_dir = sys.argv[1], sys.argv[2]
    event = json.loads(os.environ["BENCH_EVENT"])
    report = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.path.insert(0, function_dir)
    import handler

    if mode == "cold":
        response = handler.handler(event, None)
        report.write(f"RESPONSE {response['statusCode']}\n")
    else:
        count = int(sys.argv[3])
        for _ in range(min(count, 2000)):
            handler.handler(event, None)
        started = time.perf_counter()
        for _ in range(count):
            handler.handler(event, None)
        report.write(f"WARM_US {(time.perf_counter() - started) / count * 1e6}\n")
    report.flush()


if __name__ == "__main__":
    main()
