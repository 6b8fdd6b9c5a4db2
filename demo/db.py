"""`make stop-db`: stop the embedded PostgreSQL (pgserver) of this checkout and say what was done.

Plain Python, no Django: it must work whatever state the database or the settings are in.
"""

import logging
import os
import sys
import time
import warnings
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / ".pgdata"


def _postmaster_pid(data_dir: Path) -> int | None:
    pid_file = data_dir / "postmaster.pid"
    try:
        return int(pid_file.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # running as another user (pgserver's own, when started by root)
        return True
    return True


def stop(data_dir: Path = DATA_DIR) -> str:
    if not data_dir.is_dir():
        return f"No embedded database at {data_dir}: nothing to stop (DATABASE_URL users stop their own server)."
    pid = _postmaster_pid(data_dir)
    if pid is None or not _alive(pid):
        return f"The embedded database at {data_dir} is not running: nothing to stop."
    logging.getLogger("pgserver").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", module="platformdirs")
    import pgserver

    # pg_ctl itself, as the server's own user (pgserver runs it as "pgserver" when started by root):
    # pgserver's cleanup() stops only when it believes no other process holds the server, which a
    # process killed earlier leaves wrong.
    user = "pgserver" if os.geteuid() == 0 else None
    try:
        pg_ctl = getattr(pgserver, "pg_ctl")  # noqa: B009 - generated at import, unknown to the type checker
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir, user=user, timeout=60)
    except Exception as exc:  # noqa: BLE001 - reported, with the server's state, to the person who asked
        if _alive(pid):
            return f"Could not stop the embedded database (pid {pid}): {exc}"
    deadline = time.monotonic() + 10  # pg_ctl returns once the pid file is gone; the process follows
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        return f"Asked the embedded database (pid {pid}) to stop, but it is still running; try again."
    (data_dir / ".handle_pids.json").unlink(missing_ok=True)  # pgserver's list of processes using it
    return f"Stopped the embedded database (PostgreSQL pid {pid}, data kept in {data_dir}; `make clean-db` deletes it)."


if __name__ == "__main__":
    if sys.argv[1:] != ["stop"]:
        sys.exit("usage: python -m demo.db stop")
    print(stop())
