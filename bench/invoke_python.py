"""Benchmark driver for the Python handler, run in a fresh interpreter like a Lambda execution environment.

`cold`: import the handler (start-up), answer one request, print RESPONSE <status> at once (the clock stops
there: a Lambda worker stays alive after answering, so interpreter shutdown is not part of a cold start),
then `PHASES <start-up ms> <first request ms> <peak RSS KiB> <start-up CPU ms>` (CPU time varies less than
wall time on a shared machine).
`warm N`: call the handler N times in-process and print the mean microseconds per call, of wall time and of
CPU time.
Reports go to stderr; the function's log lines go to stdout, which the benchmark sends to /dev/null.
"""

import json
import os
import sys
import time


def main() -> None:
    mode, function_dir = sys.argv[1], sys.argv[2]
    event = json.loads(os.environ["BENCH_EVENT"])
    report = sys.stderr
    sys.path.insert(0, function_dir)
    started, started_cpu = time.perf_counter(), time.process_time()
    import handler

    imported, imported_cpu = time.perf_counter(), time.process_time()
    if mode == "cold":
        response = handler.handler(event, None)
        answered = time.perf_counter()
        report.write(f"RESPONSE {response['statusCode']}\n")
        report.flush()
        # VmHWM, not ru_maxrss: the latter survives exec and so may count the parent's memory.
        with open("/proc/self/status") as status:
            peak_kib = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
        startup_cpu = (imported_cpu - started_cpu) * 1000
        report.write(
            f"PHASES {(imported - started) * 1000} {(answered - imported) * 1000} {peak_kib} {startup_cpu}\n"
        )
    else:
        count = int(sys.argv[3])
        for _ in range(min(count, 2000)):
            handler.handler(event, None)
        started, started_cpu = time.perf_counter(), time.process_time()
        for _ in range(count):
            handler.handler(event, None)
        wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
        report.write(f"WARM_US {wall / count * 1e6} {cpu / count * 1e6}\n")
    report.flush()


if __name__ == "__main__":
    main()
