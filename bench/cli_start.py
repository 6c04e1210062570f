"""Benchmark how long a ``dingstore`` command takes to start: the interpreter, the imports, the
help text, and the exit, as a user's shell runs it.

What is measured
----------------
Each command runs ``--rounds`` (15) times as a process (``python -m dingstore ...``), after one
warm-up run that fills the OS's file cache; the table shows the median and the slowest wall
time, beside the floor: ``python -c pass``, the interpreter alone.

* ``dingstore --help``: the command list, which names the server's commands without importing
  the server (cli/main.py);
* ``dingstore ls --help``: a file command, a client of a server (imports ``dingstore.client``);
* ``dingstore serve --help``: the server's command, which imports the server.

Run: ``.venv/bin/python bench/cli_start.py [--rounds 15]``. Results are printed and written to
``bench/results/cli_start.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import time

import common
from common import BenchError, out
from rich.table import Table

COMMANDS = {
    "python -c pass (floor)": [sys.executable, "-c", "pass"],
    "dingstore --help": [sys.executable, "-m", "dingstore", "--help"],
    "dingstore ls --help": [sys.executable, "-m", "dingstore", "ls", "--help"],
    "dingstore serve --help": [sys.executable, "-m", "dingstore", "serve", "--help"],
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=15)
    return parser.parse_args(argv)


def wall(cmd: list[str]) -> float:
    began = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True)
    took = time.perf_counter() - began
    if done.returncode != 0:
        raise BenchError(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return took


def run(args: argparse.Namespace, _stack: contextlib.ExitStack) -> dict[str, object]:
    table = Table(title=f"dingstore start-up — {args.rounds} runs each (after one warm-up)")
    for column in ("command", "median s", "slowest s"):
        table.add_column(column, justify="left" if column == "command" else "right")
    results: dict[str, object] = {"rounds": args.rounds}
    for label, cmd in COMMANDS.items():
        wall(cmd)  # warm-up
        times = [wall(cmd) for _ in range(args.rounds)]
        median, slowest = statistics.median(times), max(times)
        table.add_row(label, f"{median:.3f}", f"{slowest:.3f}")
        results[label] = {"median_s": round(median, 4), "slowest_s": round(slowest, 4)}
    common.widen_output()
    out.print(table)
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return common.run_benchmark(lambda stack: run(args, stack), "cli_start")


if __name__ == "__main__":
    sys.exit(main())
