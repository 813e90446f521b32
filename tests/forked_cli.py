"""Runs ``exchange`` commands as forked processes of one that has already imported the CLI.

Each command is still a process of its own — its own environment, working directory, standard
streams and exit status, nothing shared with the test — but it does not pay the CLI's imports
again: about 1.5 s of CPU a command, which is most of what the CLI tests cost. The pre-importing
process (the zygote) is single-threaded, so forking it is safe; it serves one test process.

``serve`` and a running ``worker`` are not forked: prometheus-client picks its multi-process
mode when it is imported (``exchange.main``), so they run as fresh processes, as do all commands
when ``EXCHANGE_TEST_FORK_CLI=0``. ``worker --once`` is forked unless the test sets the metrics
directory: its one pass is what the test looks at, not what it counts.

The protocol on the zygote's stdin/stdout is one JSON object a line each way.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import traceback
from pathlib import Path
from typing import IO, Any, Final

ROOT: Final = Path(__file__).resolve().parents[1]
_BIN: Final = Path(sys.executable).parent
PROGRAMS: Final = {"exchange": "exchange.main", "exchange-partner": "adapters.cli"}
"""The console scripts that may be forked, and the module whose ``main`` each runs."""
_UNFORKED: Final = frozenset({"serve", "worker", "demo"})


def run_cli(
    program: str,
    args: tuple[str, ...] | list[str],
    env: dict[str, str],
    *,
    timeout: float = 120,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``program *args`` in a process of its own, as ``subprocess.run`` with
    ``capture_output=True, text=True`` would: forked from the zygote where it may be.
    """
    args = tuple(args)
    command = [str(_BIN / program), *args]
    where = cwd or Path.cwd()
    if not _forkable(program, args, env):
        return subprocess.run(
            command,
            env=env,
            cwd=where,
            capture_output=True,
            encoding="utf-8",
            timeout=timeout,
            check=False,
        )
    with tempfile.TemporaryDirectory() as streams:
        out, err = Path(streams) / "out", Path(streams) / "err"
        status = ZYGOTE.run(program, args, env, where, out, err, timeout=timeout)
        return subprocess.CompletedProcess(
            command, status, out.read_text(encoding="utf-8"), err.read_text(encoding="utf-8")
        )


def _forkable(program: str, args: tuple[str, ...], env: dict[str, str]) -> bool:
    if os.environ.get("EXCHANGE_TEST_FORK_CLI", "1") == "0" or program not in PROGRAMS:
        return False
    if args[:1] == ("worker",) and "--once" in args:
        # One pass, then exit: what it counts dies with it either way (a test that reads the
        # worker's metrics runs it unforked, with the directory set).
        return "PROMETHEUS_MULTIPROC_DIR" not in env
    return not (set(args[:1]) & _UNFORKED) and "PROMETHEUS_MULTIPROC_DIR" not in env


class Zygote:
    """A process that has imported ``exchange.cli`` and forks a child per command."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None

    def run(
        self,
        program: str,
        args: tuple[str, ...],
        env: dict[str, str],
        cwd: Path,
        out: Path,
        err: Path,
        timeout: float,
    ) -> int:
        """Run ``program args``, its stdout and stderr into ``out`` and ``err``; its status."""
        with self._lock:
            process = self._started()
            assert process.stdin is not None and process.stdout is not None
            request = {
                "program": program,
                "args": list(args),
                "env": env,
                "cwd": str(cwd),
                "out": str(out),
                "err": str(err),
            }
            process.stdin.write(json.dumps(request) + "\n")
            process.stdin.flush()
            pid = int(json.loads(process.stdout.readline())["pid"])
            timer = threading.Timer(timeout, _kill, (pid,))
            timer.start()
            try:
                line = process.stdout.readline()
            finally:
                timer.cancel()
            if not line:
                raise RuntimeError("the CLI zygote died")
            return int(json.loads(line)["status"])

    def close(self) -> None:
        """Stop the zygote."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def _started(self) -> subprocess.Popen[str]:
        if self._process is None or self._process.poll() is not None:
            env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
            env.pop("PROMETHEUS_MULTIPROC_DIR", None)
            self._process = subprocess.Popen(
                [sys.executable, "-c", "import tests.forked_cli as z; z.serve()"],
                cwd=ROOT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                encoding="utf-8",
            )
        return self._process


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


ZYGOTE: Final = Zygote()
"""This test process's zygote, started on first use."""
atexit.register(ZYGOTE.close)


# --- the zygote's side --------------------------------------------------------------------------


def serve() -> None:
    """Import the CLI, then fork and run one command per request line until stdin closes."""
    import adapters.cli
    import exchange.cli  # noqa: F401 — the point: imported once, before any fork

    del adapters.cli

    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            _child(request)
        _reply({"pid": pid})
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        _reply({"status": code})


def _reply(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _child(request: dict[str, Any]) -> None:
    """Become ``exchange *args`` with the request's environment and streams; never returns."""
    code = 1
    try:
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        _redirect(0, os.devnull, os.O_RDONLY)
        _redirect(1, request["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        _redirect(2, request["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        sys.argv = [str(_BIN / request["program"]), *request["args"]]
        program = importlib.import_module(PROGRAMS[request["program"]])
        try:
            program.main()
            code = 0
        except SystemExit as exit_:
            code = _exit_code(exit_.code, sys.stderr)
    except BaseException:
        traceback.print_exc()
    finally:
        # What the interpreter runs at exit, as the command's own process would: among them
        # multiprocessing's removal of its temporary directory (a job pool's fork server).
        with contextlib.suppress(Exception):
            atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # a closed stream takes no more
                stream.flush()
        os._exit(code)


def _redirect(fd: int, path: str, flags: int) -> None:
    target = os.open(path, flags, 0o600)
    os.dup2(target, fd)
    os.close(target)


def _exit_code(code: object, stderr: IO[str]) -> int:
    """What the interpreter would exit with for ``sys.exit(code)``."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=stderr)
    return 1
