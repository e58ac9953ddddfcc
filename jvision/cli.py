"""What every command-line tool shares: a user's mistake is one line on stderr, not a traceback.

    def main(argv=None) -> int: ...                 # raises on errors, returns the exit status
    if __name__ == "__main__":
        sys.exit(run_tool(main))

``run_tool`` prints ``error: <message>`` for the errors a user causes and can fix (a config key or
value, a missing or foreign file, a checkpoint that does not fit, a refused work dir, a diverged run)
and exits with status 2; ``--debug`` anywhere on the command line re-raises them with the traceback.
Any other exception is a bug and keeps its traceback. Under MPI each rank prefixes ``[rank N]``.
"""
from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

__all__ = ["run_tool", "add_debug_flag", "user_error_types", "error_message"]


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true", help="show the Python traceback of an error")


def user_error_types() -> tuple[type, ...]:
    from .config import ConfigError
    from .convert import CheckpointReadError, StateDictMismatchError
    from .engine.trainer import NonFiniteLossError, ResumeError
    from .engine.workdir import WorkDirError
    return (ConfigError, WorkDirError, ResumeError, NonFiniteLossError, CheckpointReadError, StateDictMismatchError,
            FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError, KeyError, ValueError, TypeError)


def error_message(exc: BaseException) -> str:
    if isinstance(exc, KeyError) and len(exc.args) == 1 and isinstance(exc.args[0], str):
        return exc.args[0]  # str(KeyError) would quote it
    return str(exc) or type(exc).__name__


def run_tool(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Run ``main(argv)``; see the module docstring."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        return int(main(argv) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - sorted below into user errors and bugs
        if debug or not isinstance(exc, user_error_types()):
            raise
        from .engine.dist import get_rank, get_world_size
        prefix = f"[rank {get_rank()}] " if get_world_size() > 1 else ""
        sys.stdout.flush()
        print(f"{prefix}error: {error_message(exc)}", file=sys.stderr, flush=True)
        return 2
