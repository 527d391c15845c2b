"""wrk, the load generator of the served benchmarks: one run pinned to a CPU, its result read
back from ``bench/wrk/rotate.lua``."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["WRK_SCRIPT", "WrkResult", "require_wrk", "run_wrk", "write_requests"]

WRK_SCRIPT = Path(__file__).resolve().parent / "wrk" / "rotate.lua"

Method = Literal["POST", "GET"]

_RESULT = re.compile(r"^RESULT (.*)$", re.MULTILINE)
_SAMPLE = re.compile(r"^SAMPLE (.*)$", re.MULTILINE)


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured; latencies in milliseconds."""

    requests: int
    seconds: float
    bytes: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    socket_errors: int  # connect, read, write and timeouts
    non_200: int
    graphql_errors: int
    cache_hits: int
    samples: tuple[str, ...]  # the first bad answers: status, then the start of the body

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.socket_errors + self.non_200 + self.graphql_errors


def require_wrk() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    if shutil.which("taskset") is None:
        raise SystemExit("taskset is not installed (util-linux)")


def write_requests(path: Path, lines: Iterable[str]) -> Path:
    """A file of requests for ``rotate.lua``: JSON bodies (POST) or paths (GET), one a line."""
    text = "\n".join(lines)
    if not text:
        raise ValueError(f"no requests for {path}")
    path.write_text(text + "\n", encoding="utf-8")
    return path


def run_wrk(
    url: str,
    requests: Path,
    *,
    method: Method = "POST",
    seconds: float,
    connections: int,
    cpus: str,
    timeout_s: float = 10.0,
) -> WrkResult:
    """Drive ``url`` for ``seconds`` with ``connections`` connections on one thread, pinned to
    ``cpus`` (a taskset list), sending the lines of ``requests`` in turn."""
    command = [
        "taskset", "-c", cpus, "wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s",
        f"--timeout={timeout_s:g}s", "--latency", "-s", str(WRK_SCRIPT), url,
        "--", str(requests), method,
    ]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=seconds + 120
    )
    found = _RESULT.search(done.stdout)
    if found is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    fields = {key: int(value) for key, value in (p.split("=") for p in found.group(1).split())}
    return WrkResult(
        requests=fields["requests"],
        seconds=fields["duration_us"] / 1e6,
        bytes=fields["bytes"],
        p50_ms=fields["p50_us"] / 1000,
        p99_ms=fields["p99_us"] / 1000,
        max_ms=fields["max_us"] / 1000,
        socket_errors=sum(fields[k] for k in ("connect", "read", "write", "timeout")),
        non_200=fields["non_200"],
        graphql_errors=fields["graphql_errors"],
        cache_hits=fields["cache_hits"],
        samples=tuple(_SAMPLE.findall(done.stdout)),
    )
