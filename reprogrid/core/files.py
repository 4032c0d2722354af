"""Atomic file and folder writes: a reader sees the old content or the new, never half.

Files go to a temporary name in the same folder and are renamed into place; folders are
built beside their destination and swapped in, so an interrupted writer leaves nothing
half-written behind. The swap exchanges the two folders in one ``renameat2`` call where
Linux offers it, so the old tree stays in place until the new one is; user data is never
moved into a temporary folder.

Every temporary name is recognisable: ``.<name>.reprogrid-tmp-<pid>-<random>`` beside
``<name>`` (long names are shortened with a hash, so the temporary name always fits the
file-name limit). :func:`sweep_leftovers` removes the leftovers of a writer that was
killed (its pid is gone), and only those; every writer here calls it first, so the next
run of the same command cleans up after a killed one.
"""
from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import stat
from pathlib import Path
from typing import Iterator, List, Optional, Union

PathLike = Union[str, "os.PathLike[str]"]

TMP_MARK = "reprogrid-tmp"
OLD_MARK = "reprogrid-old"
NAME_MAX = 255
_SHORT = 100  # bytes of the destination's name kept in a temporary name
_LEFTOVER = re.compile(r"^\.(?P<short>.+)\.(?P<mark>reprogrid-tmp|reprogrid-old)-(?P<pid>\d+)-[A-Za-z0-9_]+$")


def short_name(name: str) -> str:
    """``name``, or a prefix plus a hash when it is too long to carry into a temporary name."""
    if len(name.encode("utf-8")) <= _SHORT:
        return name
    import hashlib  # late, as ctypes and tempfile below: a command that writes nothing loads none of them

    digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:12]
    return name.encode("utf-8")[:60].decode("utf-8", "ignore") + "~" + digest


def temp_prefix(path: PathLike, mark: str = TMP_MARK) -> str:
    """The prefix of this process's temporary names for ``path`` (mkstemp adds the random part)."""
    return f".{short_name(Path(path).name)}.{mark}-{os.getpid()}-"


def is_temp_name(name: str) -> bool:
    """Whether ``name`` is one of the temporary names this module creates."""
    return _LEFTOVER.match(name) is not None


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (ours counts as alive)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_leftovers(path: PathLike) -> List[Path]:
    """Remove the temporary files and folders a killed writer of ``path`` left beside it.

    Only names made by this module for this very destination, by a process that no longer
    exists, are touched. A folder moved aside by the non-Linux swap (``reprogrid-old``) is
    put back when ``path`` itself is gone, so an old tree is never lost. Returns what was
    removed or restored.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    short = short_name(path.name)
    done: List[Path] = []
    try:
        entries = [e for e in os.scandir(parent) if e.name.startswith(f".{short}.reprogrid-")]
    except OSError:
        return done
    for entry in entries:
        m = _LEFTOVER.match(entry.name)
        if m is None or m.group("short") != short or pid_alive(int(m.group("pid"))):
            continue
        leftover = Path(entry.path)
        if m.group("mark") == OLD_MARK and not os.path.lexists(path):
            with contextlib.suppress(OSError):
                os.replace(leftover, path)
                done.append(leftover)
            continue
        _remove(leftover)
        done.append(leftover)
    return done


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def check_name_length(path: PathLike) -> Optional[str]:
    """Why ``path``'s last part cannot be a file name here (None when it can)."""
    name = Path(path).name
    if len(name.encode("utf-8")) > NAME_MAX:
        return f"the name is {len(name.encode('utf-8'))} bytes long; file systems allow {NAME_MAX}: choose a shorter name"
    return None


def write_bytes_atomic(path: PathLike, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_leftovers(path)
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path), suffix="", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as err:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if err.filename is None:
            raise named(err, path) from err
        raise
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def named(err: OSError, path: PathLike) -> OSError:
    """``err`` naming ``path`` when it names no file itself (a failed write: disk full, too large)."""
    if err.filename is not None:
        return err
    out = type(err)(err.errno, err.strerror, str(path))
    out.__cause__ = err
    return out


class AppendFile:
    """A text log opened for appending whose write, flush and close errors name its path
    (a full disk is reported as "<path>: No space left on device", not anonymously)."""

    def __init__(self, path: PathLike, buffering: int = -1) -> None:
        self.path = Path(path)
        self._handle = open(self.path, "a", buffering=buffering)

    def write(self, text: str) -> int:
        try:
            return self._handle.write(text)
        except OSError as err:
            raise named(err, self.path) from None

    def flush(self) -> None:
        try:
            self._handle.flush()
        except OSError as err:
            raise named(err, self.path) from None

    def fileno(self) -> int:
        return self._handle.fileno()

    def close(self) -> None:
        try:
            self._handle.close()
        except OSError as err:
            with contextlib.suppress(OSError):
                self._handle.close()  # the buffer is dropped: nothing is retried at exit
            raise named(err, self.path) from None

    @property
    def closed(self) -> bool:
        return self._handle.closed


def not_regular(path: str) -> Optional[str]:
    """What ``path`` is when it is not a regular file to read (a FIFO, a device, a folder, a link to one), or None."""
    try:
        st = os.stat(path)
    except OSError as err:
        return f"cannot be read ({err.strerror}){' (a dangling symlink)' if os.path.islink(path) else ''}"
    if stat.S_ISREG(st.st_mode):
        return None
    kind = ("a FIFO" if stat.S_ISFIFO(st.st_mode) else "a folder" if stat.S_ISDIR(st.st_mode)
            else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
            else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
    if os.path.islink(path):
        kind = f"a symlink to {os.path.realpath(path)} ({kind})"
    return kind


def write_text_atomic(path: PathLike, text: str, mode: int = 0o644) -> None:
    """Text version of :func:`write_bytes_atomic` (UTF-8, newlines kept as given)."""
    write_bytes_atomic(path, text.encode("utf-8"), mode)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_renameat2 = None


def exchange(a: PathLike, b: PathLike) -> bool:
    """Swap two existing paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``).

    Returns False when the platform or file system cannot (the caller falls back).
    """
    import ctypes

    global _renameat2
    if _renameat2 is None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            func = libc.renameat2
            func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
            func.restype = ctypes.c_int
            _renameat2 = func
        except (OSError, AttributeError):
            _renameat2 = False
    if _renameat2 is False:
        return False
    if _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def swap_in(new: Path, dest: Path) -> None:
    """Put ``new`` at ``dest``; an existing ``dest`` stays in place until ``new`` is there.

    The old content ends up at ``new``'s (temporary) name, removed here; a kill before
    that removal leaves a leftover that :func:`sweep_leftovers` deletes.
    """
    if not os.path.lexists(dest):
        try:
            os.replace(new, dest)
            return
        except OSError as err:  # another writer got there first: swap with its result
            if err.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.EISDIR, errno.ENOTDIR):
                raise
    if exchange(new, dest):
        _remove(new)
        return
    if new.is_dir() != dest.is_dir() or not new.is_dir():
        os.replace(new, dest)  # a file, or a folder replacing a file: one rename
        return
    import tempfile

    old = Path(tempfile.mkdtemp(prefix=temp_prefix(dest, OLD_MARK), dir=dest.parent))
    os.rmdir(old)
    os.replace(dest, old)
    try:
        os.replace(new, dest)
    except BaseException:
        os.replace(old, dest)
        raise
    _remove(old)


@contextlib.contextmanager
def atomic_directory(path: PathLike) -> Iterator[Path]:
    """Yield a fresh temporary folder; on success it replaces ``path`` in one swap.

    An existing ``path`` stays where it is until the new folder is in place (see
    :func:`swap_in`). On any error the temporary folder is removed and ``path`` is left
    untouched. Leftovers of a killed earlier writer of ``path`` are swept first.
    """
    path = Path(path).absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_leftovers(path)
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(path), suffix="", dir=path.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700; a submit tree must be readable like any folder
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        swap_in(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def discard(path: PathLike) -> None:
    """Remove ``path``: first renamed to a temporary name (so a kill mid-way leaves only a
    recognisable leftover, swept next time), then deleted."""
    path = Path(path)
    if not os.path.lexists(path):
        return
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path), dir=path.parent)
    os.close(fd)
    os.unlink(tmp)
    os.replace(path, tmp)
    _remove(Path(tmp))
