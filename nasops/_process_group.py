"""Stopping a trial subprocess with everything it started (``nasops ss-gen`` and ``nasops tune``
run each trial through the shell, as the leader of its own process group)."""

import os
import signal
import subprocess


def kill_process_group(process: subprocess.Popen) -> None:
    """SIGKILL ``process``'s process group (started with ``start_new_session=True``) and reap
    it, draining any pipes."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # already gone
    process.communicate()
