"""CPU time over one level, by part of the machine: service, PostgreSQL, RabbitMQ, client."""

from __future__ import annotations

import os
import resource
from pathlib import Path

CPU_PARTS = ("service", "postgres", "rabbitmq", "client", "observer")


def _process_cpu(service_pid: int | None) -> dict[str, float]:
    """CPU seconds so far of the service's processes, PostgreSQL and RabbitMQ.

    Each process counts with the children it reaped, so the backends that a closed
    connection ended stay in PostgreSQL's total.
    """
    tick = os.sysconf("SC_CLK_TCK")
    parts = dict.fromkeys(CPU_PARTS[:3], 0.0)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        command = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        pid, parent = int(entry.name), int(fields[1])
        if service_pid is not None and service_pid in (pid, parent):
            part = "service"
        elif command.startswith("postgres"):
            part = "postgres"
        elif command.startswith("beam"):
            part = "rabbitmq"
        else:
            continue
        parts[part] += sum(int(value) for value in fields[11:15]) / tick
    return parts


class CpuMeter:
    """CPU time by part of the machine over one level.

    The client (wrk or the baseline) is a child of this process and is counted when
    reaped; the observer is this process itself (with the Python client, the client
    too).
    """

    def __init__(self, service_pid: int | None) -> None:
        self._service_pid = service_pid
        self._start = self._read()

    def _read(self) -> dict[str, float]:
        parts = _process_cpu(self._service_pid)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        this = resource.getrusage(resource.RUSAGE_SELF)
        parts["client"] = children.ru_utime + children.ru_stime
        parts["observer"] = this.ru_utime + this.ru_stime
        return parts

    def stop(self) -> dict[str, float]:
        """Return the CPU seconds each part used since the meter started."""
        end = self._read()
        return {part: max(0.0, end[part] - self._start[part]) for part in CPU_PARTS}
