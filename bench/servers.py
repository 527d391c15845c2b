"""Servers the served benchmarks start: pinned to a CPU, waited for, watched through ``/proc``
(the CPU they use and their workers' memory) and stopped, each by its own process id."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

__all__ = ["ProcessWatch", "Server", "free_port"]

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stat_fields(pid: int) -> list[str]:
    # The command name, in parentheses, may hold spaces: fields are counted after it.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent = int(_stat_fields(int(entry))[1])
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
            children.setdefault(parent, []).append(int(entry))
    found, stack = [], list(children.get(pid, []))
    while stack:
        child = stack.pop()
        found.append(child)
        stack.extend(children.get(child, []))
    return found


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class Server:
    """A server process started pinned to ``cpus``, its output in ``log``."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        cpus: str,
        environment: Mapping[str, str],
        log: Path,
        cwd: Path,
    ) -> None:
        self.log = log
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                ["taskset", "-c", cpus, *command],
                env=dict(environment),
                cwd=cwd,
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def workers(self) -> list[int]:
        """The processes serving requests: uvicorn's workers when it has several (not
        multiprocessing's resource tracker), else the process itself."""
        found = [
            pid for pid in _descendants(self.pid) if "resource_tracker" not in _command_line(pid)
        ]
        return found or [self.pid]

    def wait_ready(self, url: str, *, timeout_s: float = 120.0, workers: int = 1) -> None:
        """Until ``url`` answers 200 and ``workers`` workers are up."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited; its log:\n{self._log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as answer:
                    if answer.status == 200 and len(self.workers()) >= workers:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        raise RuntimeError(f"not ready at {url} in {timeout_s:g} s; its log:\n{self._log_tail()}")

    def stop(self) -> None:
        """SIGINT (uvicorn's graceful stop, which stops its workers), then SIGKILL for this
        process and any worker left, each by its id."""
        workers = self.workers() if self.process.poll() is None else []
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        for pid in workers:
            if pid != self.pid and Path(f"/proc/{pid}").exists():
                os.kill(pid, signal.SIGKILL)

    def _log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])

    def __enter__(self) -> Server:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.stop()


class ProcessWatch:
    """While it runs: the CPU seconds a server's processes use, and the peak resident memory
    of each worker, sampled from ``/proc`` a few times a second."""

    def __init__(self, server: Server, *, interval_s: float = 0.2) -> None:
        self._pids = [server.pid, *server.workers()]
        self._workers = server.workers()
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self.peak_rss_mb: dict[int, float] = dict.fromkeys(self._workers, 0.0)
        self.cpu_seconds = 0.0

    def _cpu(self) -> float:
        total = 0
        for pid in set(self._pids):
            try:
                fields = _stat_fields(pid)
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / _CLOCK_TICKS

    def _sample(self) -> None:
        while not self._stop.is_set():
            for pid in self._workers:
                try:
                    # statm's second field: resident pages.
                    resident = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
                except OSError:
                    continue
                mb = resident * _PAGE_KB / 1024
                self.peak_rss_mb[pid] = max(self.peak_rss_mb[pid], mb)
            self._stop.wait(self._interval)

    def __enter__(self) -> ProcessWatch:
        self._cpu_before = self._cpu()
        self._thread.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self.cpu_seconds = self._cpu() - self._cpu_before

    @property
    def worker_peak_mb(self) -> float:
        return max(self.peak_rss_mb.values(), default=0.0)
