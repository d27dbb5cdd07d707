"""One trainer per job: an OS advisory lock next to the job's checkpoint.

After Snakemake is killed its jobs keep running; ``snakemake --unlock`` and a rerun would
start a second trainer on the same checkpoint, and the two would overwrite each other's
files. The trainer therefore holds ``flock`` on ``<checkpoint>.lock`` while it runs and writes
its PID and host into it. The kernel drops the lock when the process dies, however it dies
(SIGKILL included), so a stale lock file never blocks a rerun. flock works across the nodes
of a cluster on NFS (Linux emulates it with byte-range locks) and on Lustre/GPFS.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import platform
import time
from collections.abc import Iterator
from pathlib import Path


class JobLockedError(RuntimeError):
    """Another live process is training this job."""


def lock_path_for(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def _holder(lock_file: Path) -> str:
    with contextlib.suppress(OSError):
        text = lock_file.read_text().strip()
        if text:
            return text
    return "an unknown process"


@contextlib.contextmanager
def job_lock(lock_file: Path, job: str) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_file`` for the duration of the block, or raise
    JobLockedError at once (naming the PID that holds it) if another process has it."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise JobLockedError(
                f"job {job} is already being trained by {_holder(lock_file)} (lock file {lock_file}). "
                "Two trainers on one job would overwrite each other's checkpoint. If Snakemake was "
                "killed, its jobs keep running: wait for that process to finish, or end it "
                "(kill <pid>), then rerun; the rerun resumes from the checkpoint."
            ) from None
        # The previous holder unlinks the file on exit; if it did so between our open and our
        # flock, we locked an orphaned inode and must start over on the new file.
        try:
            same = os.stat(lock_file).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        os.write(fd, f"PID {os.getpid()} on host {platform.node()} (started {started})\n".encode())
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock_file)  # while still holding the lock: see the inode check above
        os.close(fd)
