"""Atomic file writes: readers see the old file or the new one, never a half-written one.

Every writer builds its output under a temporary name in the same directory (:func:`temporary_sibling`:
``.<name>.<pid>.<token>.tmp<suffix>``), makes it durable (``fsync`` of the file, or of every file and folder of a
tree), then renames it over the target and ``fsync``-s the directory. A process killed before the rename leaves
the old target untouched and a temporary named after its dead process id, which the next write of the same target
removes (:func:`remove_stale_temporaries`); a temporary of a process still running is left alone.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import secrets
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_file", "atomic_write_bytes", "atomic_write_text", "fsync_dir", "fsync_file", "fsync_tree",
           "remove_stale_temporaries", "remove_tree", "replace_tree", "temporary_sibling"]


def temporary_sibling(path: str | os.PathLike[str], suffix: str = "") -> Path:
    """A fresh, unused name beside ``path`` for a temporary: ``.<name>.<pid>.<token>.tmp<suffix>`` (not created).

    >>> p = temporary_sibling("/data/best.keras", ".keras")
    >>> p.parent.as_posix(), p.name.startswith(f".best.keras.{os.getpid()}."), p.name.endswith(".tmp.keras")
    ('/data', True, True)
    """
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp{suffix}")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's), or we cannot tell: leave its temporary alone
    return True


def remove_stale_temporaries(path: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporaries of ``path`` (files or folders named by :func:`temporary_sibling`) whose process is no
    longer running: what a writer killed before its rename left behind. Returns what was removed."""
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d+)\.[0-9a-f]+\.tmp.*\Z", re.S)
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except FileNotFoundError:
        return removed
    for entry in entries:
        match = pattern.match(entry.name)
        if match is None or _pid_alive(int(match.group(1))):
            continue
        stale = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(stale, ignore_errors=True)
        else:
            try:
                stale.unlink()
            except FileNotFoundError:
                pass
        removed.append(stale)
    return removed


def fsync_file(path: str | os.PathLike[str]) -> None:
    """Flush a written file's contents to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Flush a directory's entries (a rename or a new file in it) to the disk; a no-op where directories cannot be
    opened (Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_tree(path: str | os.PathLike[str]) -> None:
    """:func:`fsync_file` every file under ``path``, then :func:`fsync_dir` every folder, deepest first."""
    for root, _, files in os.walk(path, topdown=False):
        for name in files:
            fsync_file(os.path.join(root, name))
        fsync_dir(root)


@contextmanager
def atomic_file(path: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """A temporary path beside ``path`` (ending in ``suffix``, for writers that want one) for a writer to fill; when
    the block ends without an error it is ``fsync``-ed and renamed over ``path``, else removed. Temporaries of an
    earlier, killed write of ``path`` are removed first.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "scores.npy"
    >>> with atomic_file(target, ".npy") as tmp:
    ...     _ = tmp.write_bytes(b"data")
    >>> target.read_bytes(), [p.name for p in target.parent.iterdir()]
    (b'data', ['scores.npy'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = temporary_sibling(path, suffix)
    try:
        yield tmp
        fsync_file(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to a temporary file in the same directory, ``fsync`` it, then ``os.replace`` it over ``path``.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a" / "b.txt"
    >>> atomic_write_text(target, "done\\n"); target.read_text()
    'done\\n'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """:func:`atomic_write_bytes` of ``text`` in UTF-8 with ``\\n`` line ends."""
    atomic_write_bytes(path, text.encode("utf-8"))


# --- folders ---------------------------------------------------------------------------------------------------

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``); ``False`` where the
    system or the filesystem has no such call."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        call = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    call.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    call.restype = ctypes.c_int
    if call(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EPERM):
        return False
    raise OSError(code, os.strerror(code), str(a), None, str(b))


def replace_tree(tmp: str | os.PathLike[str], path: str | os.PathLike[str]) -> None:
    """Move the complete folder ``tmp`` (built beside ``path`` and :func:`fsync_tree`-d) to ``path``, replacing an
    old one.

    Where the system can swap two folders atomically (Linux) a reader sees the old tree or the new one, never a
    mix; elsewhere the old tree is first renamed aside, so for a moment there is none. Either way ``path`` is
    never a half-written tree, and the old tree is deleted only once the new one is in place.

    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for text in ("old", "new"):
    ...     tmp = temporary_sibling(root / "export"); tmp.mkdir(); _ = (tmp / "v.txt").write_text(text)
    ...     replace_tree(tmp, root / "export")
    >>> (root / "export" / "v.txt").read_text(), sorted(p.name for p in root.iterdir())
    ('new', ['export'])
    """
    tmp, path = Path(tmp), Path(path)
    if not path.exists() and not path.is_symlink():
        os.rename(tmp, path)
    elif _exchange(tmp, path):
        shutil.rmtree(tmp)  # now the old tree
    else:
        aside = temporary_sibling(path, ".old")
        os.rename(path, aside)
        os.rename(tmp, path)
        if aside.is_dir() and not aside.is_symlink():
            shutil.rmtree(aside)
        else:
            aside.unlink()
    fsync_dir(path.parent)


def remove_tree(path: str | os.PathLike[str]) -> bool:
    """Delete the folder ``path`` in one step for its readers (renamed to a temporary, then deleted); ``False``
    when there was none."""
    path = Path(path)
    if not path.exists():
        return False
    aside = temporary_sibling(path, ".old")
    os.rename(path, aside)
    fsync_dir(path.parent)
    shutil.rmtree(aside)
    return True
