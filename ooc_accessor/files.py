"""Files written safely: temporary names, stale temporaries, free space, write errors.

Every store (a design, a read_csv store, U or scores) is written under a hidden temporary
name beside its target and renamed over it when complete; these are the pieces around
that: where the temporary goes and how it is named, cleaning up after a killed writer,
refusing a write the disk cannot take, and turning HDF5's write failures into a
:class:`~ooc_accessor.StoreError` that names the target.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import io
import os
import re
import shutil
import socket
import stat
import uuid
from typing import Any

import h5netcdf
import h5py

from . import options
from .errors import ArgumentError, StoreError

try:  # the file-size limit (a simulated or real full disk); Unix only
    import resource
except ImportError:  # pragma: no cover - Windows
    resource = None  # type: ignore[assignment]

#: environment variable naming where temporary stores go (on a cluster: a shared disk)
TMPDIR_ENV = options.TMPDIR_ENV


#: HDF5 filters every h5py build has (``compression=``); None stores uncompressed
COMPRESSIONS = (None, "gzip", "lzf")


def check_compression(compression: Any) -> None:
    """Refuse a ``compression=`` HDF5 cannot apply, before anything is written."""
    if compression not in COMPRESSIONS:
        raise ArgumentError(
            f"compression must be one of {COMPRESSIONS}, not {compression!r}: 'gzip' packs "
            "tighter, 'lzf' is faster"
        )


def temporary_store_path(directory: str | None = None) -> str:
    """A fresh path for a temporary store.

    In ``directory`` if given, else ``ooc.set_options(tmpdir=)``, else
    ``$OOC_ACCESSOR_TMPDIR`` (set either to a shared disk when dask workers on other machines
    must read the store), else ``tempfile``'s directory.
    """
    d = options.tmpdir(directory)
    return os.path.join(d, f"ooc-design-{uuid.uuid4().hex}.nc")


def remove_file(path: str) -> None:
    """Remove a temporary store if it is still there (a finalizer's job)."""
    if os.path.exists(path):
        os.remove(path)


def temp_path(final: str) -> str:
    """A hidden temporary name beside ``final`` that says which process writes it.

    The writer's pid and host are in the name, so a later writer can tell a file left by
    a killed process (removed by :func:`remove_stale_temps`) from one still being written.
    """
    directory, base = os.path.split(os.path.abspath(final))
    tag = f"{uuid.uuid4().hex[:12]}-{os.getpid()}@{socket.gethostname()}"
    return os.path.join(directory, f".{base}.tmp-{tag}")


def create_temp(tmp: str, skeleton: bytes = b"") -> None:
    """Create, exclusively and marked, the temporary file ``tmp`` (a :func:`temp_path`).

    The file is created with ``O_EXCL`` (an existing file or a symlink of that name is never
    written through) and mode 0600 (the store's own mode is given when it is renamed into
    place, :func:`replace`). Its first bytes are the mark naming it (:func:`mark_temporary`),
    followed by ``skeleton`` past the mark (an empty HDF5 file with a :data:`USERBLOCK`, see
    :func:`open_temp`), all in one write: a killed writer leaves either an empty file (killed
    between the create and the write, a window of one system call; such a file is leaked,
    never taken for ours by :func:`remove_stale_temps`) or a marked one.
    """
    mark = _mark_text(tmp)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, 0o600)
    try:
        os.pwrite(fd, mark + skeleton[len(mark) :], 0)
    finally:
        os.close(fd)


@functools.cache
def _skeleton(kind: str) -> bytes:
    """The bytes of an empty HDF5 file (``kind`` "hdf5") or netCDF4 file ("netcdf").

    Made in memory as the writers would make them on disk (a :data:`USERBLOCK`-byte user
    block, left zero), once per process.
    """
    buf = io.BytesIO()
    opener = h5netcdf.File if kind == "netcdf" else h5py.File
    with opener(buf, "w", userblock_size=USERBLOCK):
        pass
    return buf.getvalue()


def open_temp(tmp: str, kind: str, **access: Any) -> Any:
    """Create the temporary ``tmp`` marked and open it for writing as ``kind``'s empty file.

    ``kind`` is "netcdf" (an :class:`h5netcdf.File` is returned) or "hdf5" (an
    :class:`h5py.File`); ``access`` goes to the opener (the chunk cache). HDF5 creating a
    file itself would truncate it, so the mark could only be written after that call, and
    a writer killed inside it would leave an unmarked temporary: here the empty file is
    written with its mark in one write (:func:`create_temp`) and HDF5 only opens it.
    """
    create_temp(tmp, _skeleton(kind))
    if kind == "netcdf":
        return h5netcdf.File(tmp, "a", **access)
    return h5py.File(tmp, "r+", **access)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


#: the signature every HDF5 file starts with (after its user block, if it has one)
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
#: bytes before the HDF5 data in every file this library writes: HDF5 never writes there,
#: so the mark of a temporary written there stays put whatever HDF5 does with the rest
USERBLOCK = 512


def _mark_text(tmp: str) -> bytes:
    """The mark of temporary ``tmp``: a digest of its own name (a uuid, the pid, the host).

    Of fixed length, so every store has the same layout whatever the writer's pid and host.
    """
    digest = hashlib.sha256(os.path.basename(tmp).encode()).hexdigest()
    return f"ooc_accessor temporary {digest}\n".encode()


def mark_temporary(tmp: str) -> None:
    """Write the mark of this library's temporary ``tmp`` in its user block.

    Files are created with a :data:`USERBLOCK`-byte user block, which HDF5 leaves alone:
    the mark (a digest of the file's own name) is at the file's first byte from the moment
    it is written to the end, whatever state a killed writer leaves the HDF5 data in.
    :func:`remove_stale_temps` removes only files carrying it. It stays when the
    temporary is renamed into a store: it then names a file that no longer exists, and is
    what tells :func:`store_status` that the store is this library's.
    """
    fd = os.open(tmp, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        os.pwrite(fd, _mark_text(tmp), 0)
    finally:
        os.close(fd)


def _is_our_temporary(path: str) -> bool:
    """Whether ``path`` is provably a temporary this library created: its first bytes are
    the mark naming this very file (:func:`mark_temporary`).

    Nothing else counts: an empty file (a writer killed between creating its temporary and
    writing it, :func:`create_temp`) or an HDF5 file whose user block is zeros may as well
    be a user's, and is left alone (a leaked temporary is the lesser harm).
    """
    mark = _mark_text(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(mark))
    except OSError:
        return False
    return head == mark


def remove_stale_temps(final: str) -> list[str]:
    """Remove the temporary files of ``final`` whose writer died on this host.

    A SIGKILLed writer cannot clean up after itself; the next write to the same path
    does. Only what is provably this library's goes: a name of the temporary pattern
    whose writer (pid and host in the name) is dead on this host, AND an HDF5 file that
    carries the mark naming it (:func:`mark_temporary`). Files of live processes, of other
    hosts (a shared disk), and a user's file that only looks like a temporary stay.
    """
    directory, base = os.path.split(os.path.abspath(final))
    prefix, host = f".{base}.tmp-", socket.gethostname()
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        if not name.startswith(prefix):
            continue
        tag, sep, where = name[len(prefix) :].rpartition("@")
        pid = tag.rpartition("-")[2]
        if not sep or where != host or not pid.isdigit() or _alive(int(pid)):
            continue
        path = os.path.join(directory, name)
        if not os.path.isfile(path) or os.path.islink(path) or not _is_our_temporary(path):
            continue
        try:
            os.remove(path)
            removed.append(name)
        except FileNotFoundError:  # another writer cleaned it first
            pass
    return removed


#: every mark starts so (then the 64 hex digits of a digest and a newline)
_MARK_HEAD = b"ooc_accessor temporary "
_MARK = re.compile(re.escape(_MARK_HEAD) + rb"[0-9a-f]{64}\n")


def store_status(path: str) -> str:
    """What the existing file ``path`` is: ``"ours"``, ``"unreadable"`` or ``"other"``.

    A file is ours only when provably so: its user block carries this library's mark
    (every store written since the mark exists; HDF5 never writes there, so the mark is
    there whatever state the HDF5 data are in), or HDF5 can read it and its ``format``
    attribute is one of this library's (older stores). An HDF5 file HDF5 cannot open at
    the moment (locked by another writer, or damaged) and without the mark is
    ``"unreadable"``: it may be a user's, and is never overwritten.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(2**16 + len(_HDF5_SIGNATURE))
    except OSError:
        return "other"
    if head[USERBLOCK : USERBLOCK + len(_HDF5_SIGNATURE)] == _HDF5_SIGNATURE and _MARK.match(head):
        return "ours"
    # HDF5 looks for its signature at 0, 512, 1024, 2048... (after a user block)
    at = [0] + [2**k for k in range(9, 17)]
    if not any(head[a : a + len(_HDF5_SIGNATURE)] == _HDF5_SIGNATURE for a in at):
        return "other"
    try:
        with h5py.File(path, "r") as f:
            fmt = f.attrs.get("format", b"")
    except Exception:  # HDF5 reports a lock or damage as several types
        return "unreadable"
    fmt = fmt.decode(errors="replace") if isinstance(fmt, bytes) else str(fmt)
    return "ours" if fmt.startswith("ooc_accessor.") else "other"


def is_our_store(path: str) -> bool:
    """Whether ``path`` provably holds one of this library's stores (:func:`store_status`)."""
    return store_status(path) == "ours"


def check_target(path: str | os.PathLike, error: type[Exception] = StoreError) -> str:
    """The file a store is written to, checked before anything is written; raises ``error``.

    A symlink is written through (as ``shutil.copy`` does): the store goes to the file it
    points to and the link stays. The target must not be a directory, its directory must
    exist and be writable, and an existing file there must be one of this library's
    stores: a user's other file is never overwritten.
    """
    given = os.fspath(path)
    final = os.path.abspath(given)
    if os.path.islink(final):
        final = os.path.realpath(final)
    if os.path.isdir(final):
        raise error(
            f"cannot write a store at {given!r}: it is a directory; pass a file path inside "
            f"it (e.g. {os.path.join(given, 'store.nc')!r})"
        )
    where = os.path.dirname(final)
    if not os.path.isdir(where):
        raise error(
            f"cannot write {given!r}: directory {where!r} does not exist; create it first or "
            "pass another path="
        )
    if not os.access(where, os.W_OK | os.X_OK):
        raise error(
            f"cannot write {given!r}: directory {where!r} is not writable; pass a path in a "
            "directory you can write to"
        )
    status = store_status(final) if os.path.exists(final) else "ours"
    if status == "unreadable":
        raise error(
            f"cannot write a store at {given!r}: an HDF5 file is there that cannot be opened "
            "now (another process may hold it open for writing, or it is damaged) and it "
            "carries no ooc_accessor mark, so it may not be one of this library's stores; "
            "it is not overwritten. Close the program using it and retry, remove it "
            "yourself if it is yours to remove, or pass another path="
        )
    if status != "ours":
        raise error(
            f"cannot write a store at {given!r}: a file that is not an ooc_accessor store is "
            "there, and it is not overwritten; remove it first or pass another path="
        )
    return final


#: the names :func:`temporary_store_path` gives (read_csv's say ``ooc-csv-``)
_TEMPORARY_NAME = re.compile(r"ooc-[a-z]+-[0-9a-f]{32}\.nc")
#: the parts directory of a temporary store (see ``assemble.parts_dir``)
_TEMPORARY_PARTS = re.compile(r"\.ooc-[a-z]+-[0-9a-f]{32}\.nc\.parts-[0-9a-f]{12}")


def _umask() -> int:
    """The process's umask, read without changing it where the system says it (Linux)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: read by setting it back at once
    os.umask(mask)
    return mask


def new_store_mode(final: str, source_mode: int | None = None) -> int:
    """The mode of a new store at ``final`` (no file was there).

    A temporary store (named by :func:`temporary_store_path`, in a temporary directory
    others may share) is 0600, as ``tempfile`` makes its files; any other has the
    umask's mode, as any new file, AND-ed with ``source_mode``, the mode of the user's
    file it was made from (a 0600 CSV gives a 0600 store: never wider than its source).
    """
    parent = os.path.basename(os.path.dirname(os.path.abspath(final)))
    temporary_parts = _TEMPORARY_PARTS.fullmatch(parent)  # a temporary store's parts
    if _TEMPORARY_NAME.fullmatch(os.path.basename(final)) or temporary_parts:
        mode = 0o600
    else:
        mode = 0o666 & ~_umask()
    if source_mode is not None:
        mode &= stat.S_IMODE(source_mode)
    return mode


def replace(tmp: str, final: str, source_mode: int | None = None) -> None:
    """Rename a complete temporary over ``final``, keeping an existing target's mode and
    owner (a 0600 store stays 0600); a new file gets :func:`new_store_mode`."""
    try:
        st = os.stat(final)
    except FileNotFoundError:
        st = None
    if st is not None:
        os.chmod(tmp, stat.S_IMODE(st.st_mode))
        if hasattr(os, "chown"):
            try:
                os.chown(tmp, st.st_uid, st.st_gid)
            except PermissionError:  # only root may give a file away; ours stays ours
                pass
    else:
        os.chmod(tmp, new_store_mode(final, source_mode))
    os.replace(tmp, final)


def _marked(path: str) -> bool:
    """Whether the store ``path`` has a user block with a mark in it (every store since
    the mark exists; older ones have no user block to write a mark in)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(USERBLOCK + len(_HDF5_SIGNATURE))
    except OSError:
        return False
    return head[USERBLOCK:] == _HDF5_SIGNATURE and bool(_MARK.match(head))


def keep_store(source: str, final: str, move: bool) -> None:
    """Put the complete store ``source`` at ``final`` (a checked target), atomically.

    As every store is written: into a temporary of this library's beside ``final``
    (created exclusively, marked with its own name, see :func:`create_temp`), renamed over
    ``final`` when complete. ``move`` renames ``source`` itself when it is on the same file
    system (copied and then removed otherwise). The copy's room is checked first
    (:func:`ensure_space`); a failed write raises a :class:`StoreError` naming ``final``,
    with the temporary removed and ``final`` untouched.
    """
    remove_stale_temps(final)
    tmp = temp_path(final)
    marked = _marked(source)
    mark = _mark_text(tmp)
    same_fs = os.stat(source).st_dev == os.stat(os.path.dirname(final)).st_dev
    if not (move and same_fs):
        ensure_space(final, os.path.getsize(source))  # refused before anything is written
    try:
        if move and same_fs:
            create_temp(tmp)
            if marked:  # marked with the temporary's name before it takes that name
                with open(source, "r+b") as fh:
                    fh.write(mark)
            os.replace(source, tmp)
        else:
            create_temp(tmp)
            # the mark create_temp wrote stays: the source's own mark is not copied over it
            skip = len(mark) if marked else 0
            with open(source, "rb") as src, open(tmp, "r+b") as dst:
                src.seek(skip)
                dst.seek(skip)
                shutil.copyfileobj(src, dst, 2**20)
                dst.flush()
                os.fsync(dst.fileno())
    except OSError as exc:
        if os.path.lexists(tmp) and _is_our_temporary(tmp):
            os.remove(tmp)
        raise write_error(exc, final) from exc
    replace(tmp, final)
    if move and not same_fs:
        os.remove(source)


def discard(f: h5netcdf.File | h5py.File | None, tmp: str) -> None:
    """Close a half-written file without another write, and remove it.

    After a failed write (a full disk) HDF5's state for the file is broken: h5netcdf's
    ``close`` writes attributes first, and touching the broken objects again can crash
    the process. The h5py file is closed directly instead; its own errors are moot, as
    the file goes.
    """
    if f is not None:
        # an h5netcdf File wraps its h5py File; the CSV writer holds an h5py File itself
        h5 = f if isinstance(f, h5py.File) else getattr(f, "_h5file", None)
        try:
            # the file's data are worthless now: emptying it first gives HDF5's closing
            # flush room on a full disk (its blocks are freed)
            os.truncate(tmp, 0)
        except OSError:
            pass
        try:
            if h5 is not None and h5.id.valid:
                h5.close()
        except Exception:  # closing a broken file may fail; removing it is what matters
            pass
        if not isinstance(f, h5py.File):
            f._closed = True  # so h5netcdf's finalizer does not flush it again
    if os.path.exists(tmp):
        os.remove(tmp)


#: errno values of a full disk, a file-size limit and an exhausted quota
_NO_SPACE = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


#: space every write must find free before it starts (HDF5's metadata, the first chunks)
MIN_FREE_BYTES = 2**20


def ensure_space(final: str, nbytes: int = 0, written: int = 0) -> None:
    """Refuse to write ``nbytes`` more to ``final`` where they (plus a margin) cannot fit.

    Checked before HDF5 creates the file (the whole store's bytes) and before each block
    (that block's bytes, ``written`` being those already in the file). A write that fails
    inside HDF5 is caught and cleaned up too (:func:`write_error`, :func:`discard`), but
    HDF5's state for that file is broken from then on (h5py may even crash when the
    process exits), so a disk that cannot take the next block is refused before HDF5
    tries.
    """
    where = os.path.dirname(os.path.abspath(final))
    if not os.path.isdir(where):
        raise StoreError(
            f"cannot write store {final!r}: directory {where!r} does not exist; create it "
            "first or pass another path="
        )
    free = shutil.disk_usage(where).free
    if resource is not None:
        soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        if soft != resource.RLIM_INFINITY:
            free = min(free, soft - int(written))
    need = int(nbytes) + MIN_FREE_BYTES
    if need > free:
        raise StoreError(
            f"writing {final!r} failed: the disk is full or a file-size limit was reached "
            f"(about {need / 2**20:.1f} MiB are needed, {free / 2**20:.1f} MiB are "
            f"available). Nothing was written at {final!r}; free space in {where!r} or "
            f"write elsewhere (path=, or ooc.set_options(tmpdir=) or ${TMPDIR_ENV} for "
            "temporary stores)"
        )


def write_error(exc: BaseException, final: str) -> StoreError:
    """A :class:`StoreError` for a failed write of ``final``, naming the disk when full.

    HDF5 reports the errno only inside its message text (``errno = 28``), so both are
    looked at.
    """
    text = " ".join(str(exc).split())
    full = getattr(exc, "errno", None) in _NO_SPACE or any(
        f"errno = {e}," in text or os.strerror(e).lower() in text.lower() for e in _NO_SPACE
    )
    # HDF5's text runs to several lines of buffer addresses: its head says what failed
    text = text if len(text) <= 160 else text[:157] + "..."
    where = os.path.dirname(os.path.abspath(final))
    if full:
        return StoreError(
            f"writing {final!r} failed: the disk is full or a file-size limit was reached "
            f"({text}). Nothing was written at {final!r} and the temporary file was "
            f"removed; free space in {where!r} or write elsewhere (path=, or "
            f"${TMPDIR_ENV} or ooc.set_options(tmpdir=) for temporary stores)"
        )
    return StoreError(
        f"writing {final!r} failed ({text}). Nothing was written at {final!r} and the "
        f"temporary file was removed; check that {where!r} is writable and retry"
    )
