"""Keep Jittor's compile progress out of progress bars (standard library only; runs as a script).

When Jittor compiles operators for more than two seconds it writes, from C++ straight to file
descriptor 2, a line break and then ``Compiling Operators(i/n) used: ... eta: ...\\r`` updates and a
final line break. On a terminal that pushes a progress bar up and leaves stray lines. While a bar is
shown, ``jvision.engine.progress`` routes descriptor 2 through this script (a child process, so
nothing is lost if the parent crashes): it drops exactly those updates and their two line breaks and
forwards every other byte unchanged and at once.
"""
from __future__ import annotations

import os
import select
import subprocess
import sys

MARK = b"Compiling Operators("
HOLD_SECONDS = 0.1


class CompileLineFilter:
    """Byte-stream filter: ``feed(data) -> bytes to write``, ``flush() -> bytes held back``.

    Held back, briefly: a lone line break (it may be the one Jittor writes before its progress) and
    text that could be the start of a progress update (``"Comp"``).
    """

    def __init__(self):
        self.buf = b""
        self.held_newline = False
        self.after_compile = False

    def pending(self) -> bool:
        return bool(self.buf) or self.held_newline

    def _release(self) -> bytes:
        if self.held_newline:
            self.held_newline = False
            return b"\n"
        return b""

    def _token(self, token: bytes) -> bytes:
        if token.startswith(MARK):
            self.held_newline = False  # the line break Jittor wrote before its first update
            self.after_compile = True
            return b""
        if token == b"\n":
            if self.after_compile:  # the line break after its last update
                self.after_compile = False
                return b""
            out = self._release()
            self.held_newline = True
            return out
        self.after_compile = False
        return self._release() + token

    def feed(self, data: bytes) -> bytes:
        self.buf += data
        out = []
        while True:
            ends = [i for i in (self.buf.find(b"\r"), self.buf.find(b"\n")) if i >= 0]
            if not ends:
                break
            cut = min(ends) + 1
            token, self.buf = self.buf[:cut], self.buf[cut:]
            out.append(self._token(token))
        if self.buf and not (MARK.startswith(self.buf) or self.buf.startswith(MARK)):
            out.append(self._release() + self.buf)  # e.g. a progress bar: no line end, show it now
            self.buf = b""
            self.after_compile = False
        return b"".join(out)

    def flush(self) -> bytes:
        out = self._release() + self.buf
        self.buf = b""
        return out


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]


def main(in_fd: int = 0, out_fd: int = 1) -> int:
    filt = CompileLineFilter()
    while True:
        ready, _, _ = select.select([in_fd], [], [], HOLD_SECONDS if filt.pending() else None)
        if not ready:
            _write_all(out_fd, filt.flush())
            continue
        data = os.read(in_fd, 65536)
        if not data:
            _write_all(out_fd, filt.flush())
            return 0
        _write_all(out_fd, filt.feed(data))


_INSTALLED: dict = {}


def install(force: bool = False) -> bool:
    """Route this process's file descriptor 2 through this script, once (again if someone replaced
    descriptor 2 since). Only when stderr is a terminal, unless ``force`` or
    ``JVISION_STDERR_FILTER=1``; never with ``JVISION_STDERR_FILTER=0``. Returns whether it is on."""
    setting = os.environ.get("JVISION_STDERR_FILTER", "")
    if setting == "0":
        return False
    try:
        if not (force or setting == "1" or os.isatty(2)):
            return False
        ino = os.fstat(2).st_ino
    except OSError:
        return False
    proc = _INSTALLED.get("proc")
    if proc is not None and proc.poll() is None and _INSTALLED.get("ino") == ino:
        return True
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    try:
        proc = subprocess.Popen([sys.executable, "-S", "-u", os.path.abspath(__file__)], stdin=read_end, stdout=2,
                                stderr=subprocess.DEVNULL, close_fds=True)
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return False
    os.close(read_end)
    os.dup2(write_end, 2)
    os.close(write_end)
    _INSTALLED.update(proc=proc, ino=os.fstat(2).st_ino)
    return True


if __name__ == "__main__":
    sys.exit(main())
