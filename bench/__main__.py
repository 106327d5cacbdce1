"""``python -m bench [NAME ...] [--quick]``: run the named benchmarks in sequence.

With no NAME every known benchmark runs. A benchmark module is imported only when its
turn comes, so one that is not written yet is reported as not present and the rest run.
Each module has ``main(argv) -> int``; ``--quick`` is passed through to it.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

BENCHMARKS = {
    "engine": "bench.engine_vs_simpy",
    "server": "bench.server",
    "ui": "bench.ui",
    "diagram": "bench.diagram",
    "history": "bench.history",
    "sweep": "bench.sweep",
    "classroom": "bench.classroom",
    "semantics": "bench.semantics",
    "lanes": "bench.lanes",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run benchmarks; each prints its figures and PASS/FAIL against its "
                    "targets. Known: " + ", ".join(f"{k} ({v})" for k, v in BENCHMARKS.items()))
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help="benchmarks to run (default: all): " + ", ".join(BENCHMARKS))
    parser.add_argument("--quick", action="store_true",
                        help="small sizes for a smoke run (passed to each benchmark)")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)} (known: {', '.join(BENCHMARKS)})")

    status = 0
    summary = []
    for name in args.names or list(BENCHMARKS):
        module_name = BENCHMARKS[name]
        print(f"\n### bench {name} ({module_name})", flush=True)
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise  # the module exists but something it imports is missing
            print(f"{name}: not present ({module_name.replace('.', '/')}.py not written yet)",
                  flush=True)
            summary.append((name, "not present"))
            continue
        started = time.perf_counter()
        code = module.main(["--quick"] if args.quick else []) or 0
        took = time.perf_counter() - started
        summary.append((name, f"done in {took:.0f} s" + (f", exit {code}" if code else "")))
        status = max(status, code)
    print("\n### bench summary", flush=True)
    for name, outcome in summary:
        print(f"  {name:8s} {outcome}")
    return status


if __name__ == "__main__":
    sys.exit(main())
