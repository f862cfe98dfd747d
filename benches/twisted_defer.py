#!/usr/bin/env python3
"""Times Python Twisted's Deferreds on the two operations torsion's defer benchmark times.

    python3 benches/twisted_defer.py

It makes a virtualenv in benches/.venv and installs Twisted from PyPI into it on the
first run, then re-runs itself inside it. It prints, per operation, the time per
callback (a Deferred made, ten callbacks added, fired) and per gathered element
(gatherResults over 1,000 fired Deferreds), the best of several repeats, as
`cargo bench -p torsion --bench defer` reports them for torsion.
"""

import os
import subprocess
import sys
import timeit

HERE = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(HERE, ".venv")
VENV_PYTHON = os.path.join(VENV, "bin", "python")


def ensure_venv():
    """Re-executes this script inside a venv that has Twisted."""
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    if not os.path.exists(VENV_PYTHON):
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
    probe = subprocess.run([VENV_PYTHON, "-c", "import twisted"], capture_output=True)
    if probe.returncode != 0:
        subprocess.check_call([VENV_PYTHON, "-m", "pip", "install", "--quiet", "twisted"])
    os.execv(VENV_PYTHON, [VENV_PYTHON, os.path.abspath(__file__)] + sys.argv[1:])


def add_one(x):
    return x + 1


def chain_of_ten():
    from twisted.internet.defer import Deferred

    d = Deferred()
    for _ in range(10):
        d.addCallback(add_one)
    d.callback(1)
    return d


def gather_thousand():
    from twisted.internet.defer import gatherResults, succeed

    return gatherResults([succeed(i) for i in range(1000)])


def best_per_unit(stmt, units, number):
    times = timeit.repeat(stmt, number=number, repeat=7)
    return min(times) / number / units * 1e9


def main():
    ensure_venv()
    import twisted

    chain_ns = best_per_unit(chain_of_ten, 10, 20000)
    gather_ns = best_per_unit(gather_thousand, 1000, 200)
    print(f"Twisted {twisted.__version__} on CPython {sys.version.split()[0]}")
    print(f"chain/deferred_10_callbacks: {chain_ns:.1f} ns per callback")
    print(f"gather/succeed_and_gather_1000: {gather_ns:.1f} ns per element")


if __name__ == "__main__":
    main()
