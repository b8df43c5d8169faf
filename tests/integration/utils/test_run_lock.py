import os
import subprocess
import sys

import pytest

from tzrec.utils.errors import ConfigError
from tzrec.utils.run_lock import LOCK_FILE, RunLock


def test_second_holder_is_refused_with_the_first_pid(tmp_path):
    with RunLock(str(tmp_path)):
        with pytest.raises(ConfigError, match=f"pid {os.getpid()}"):
            RunLock(str(tmp_path)).acquire()
    # Released: a new run takes it.
    with RunLock(str(tmp_path)):
        pass


def test_lock_of_a_killed_process_is_taken_over(tmp_path):
    code = (
        "import os, signal, sys; from tzrec.utils.run_lock import RunLock; "
        f"RunLock({str(tmp_path)!r}).acquire(); os.kill(os.getpid(), signal.SIGKILL)"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=os.getcwd())
    assert proc.returncode == -9
    assert (tmp_path / LOCK_FILE).read_text()  # the dead holder's record is still there
    with RunLock(str(tmp_path)):
        pass
