"""Virus scanning with ClamAV's ``clamscan`` when it is installed (Debian's clamav with its signature database)."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ScanResult", "clamscan_available", "scan"]

SCAN_TIMEOUT = 3600.0


@dataclass
class ScanResult:
    """``checked`` False: no scan was possible (``reason`` says why); else ``infected`` lists (file, signature)."""

    checked: bool
    reason: str = ""
    infected: list[tuple[str, str]] = field(default_factory=list)
    engine: str = ""


def clamscan_available() -> bool:
    return shutil.which("clamscan") is not None


def scan(directory: str | os.PathLike[str]) -> ScanResult:
    """Scan every file under ``directory``, recursively."""
    program = shutil.which("clamscan")
    if program is None:
        return ScanResult(False, "未安装 ClamAV（clamscan），未做病毒检测")
    version = subprocess.run([program, "--version"], capture_output=True, text=True, check=False, timeout=60)
    try:
        done = subprocess.run([program, "--recursive", "--infected", "--no-summary", "--stdout", str(directory)],
                              capture_output=True, text=True, check=False, timeout=SCAN_TIMEOUT)
    except subprocess.TimeoutExpired:
        return ScanResult(False, "病毒检测超时")
    if done.returncode not in (0, 1):
        reason = (done.stderr or done.stdout).strip().splitlines()
        return ScanResult(False, f"clamscan 无法运行：{reason[-1] if reason else done.returncode}",
                          engine=version.stdout.strip())
    root = Path(directory)
    infected = []
    for line in done.stdout.splitlines():
        if line.endswith(" FOUND"):
            name, _, signature = line[:-len(" FOUND")].rpartition(": ")
            try:
                name = Path(name).relative_to(root).as_posix()
            except ValueError:
                pass
            infected.append((name, signature))
    return ScanResult(True, infected=infected, engine=version.stdout.strip())
