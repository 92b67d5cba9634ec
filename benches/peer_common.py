"""What the Python peer scripts share: the timing rule and the machine's description."""

import platform
import statistics
import time
from importlib.metadata import PackageNotFoundError, version


def timed(fn, runs):
    """Median wall time in ms of `runs` calls after one warm-up, and the last result."""
    out = fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t) * 1000.0)
    return statistics.median(times), out


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def pkg_version(name):
    try:
        return version(name)
    except PackageNotFoundError:
        return "-"
