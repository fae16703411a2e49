"""A design built by a dask.distributed cluster: each worker builds a run of blocks into a
part store of its own, rebuilding the formula state from its JSON spec, and the store is
assembled over the parts without the client reading a row (:mod:`~ooc_accessor.assemble`).
The learn pass before it runs on the workers too (:mod:`~ooc_accessor.learnparts`).

The spec a worker receives is data like a store's: its codes are checked against the
allow-list before anything is evaluated (the user's namespace does not travel, so only
numpy's and patsy's functions could run there anyway); a formula calling anything else is
built on the client instead.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable
from typing import Any

from dask.delayed import delayed
from patsy.design_info import DesignInfo

from . import assemble, progress, reduce, store
from .blocks import build_block
from .safety import offence
from .sources import missing_columns
from .spec import default_eval_env, infos_from_spec, spec_from_json

__all__ = ["append_blocks", "build_part", "infos_for", "worker_groups", "write_parts"]


def append_blocks(
    writer: store.DesignWriter,
    source: Any,
    blocks: Any,
    infos: list[DesignInfo],
    missing: str,
    wcol: str | None,
    formula: str,
) -> int:
    """Build each block and append it; returns the rows dropped for missing values."""
    dropped = 0
    for block in blocks:
        built = build_block(infos, block, missing, wcol, formula)
        dropped += len(block) - len(built.index)
        writer.append(built.x, built.y, built.index, built.w)
        progress.advance(len(block), progress.frame_bytes(block))
    return dropped


def worker_groups(source: Any, infos: list[DesignInfo], rows: int) -> list | None:
    """Runs of blocks for the cluster's workers, when they can build them on their own.

    That needs a source a worker can read (a dask-backed Dataset) and a formula that only
    calls numpy and patsy (the caller's namespace does not travel).
    """
    if not getattr(source, "remote", False):
        return None
    codes = [f.code for info in infos for f in info.factor_infos]
    if missing_columns(source, codes, default_eval_env()) or any(map(offence, codes)):
        return None
    groups = reduce.worker_groups(source.ranges(rows))
    return groups if groups is not None and len(groups) > 1 else None


@functools.lru_cache(maxsize=8)
def infos_for(spec_json: str) -> list[DesignInfo]:
    """A worker's design infos, rebuilt from the JSON spec once per process.

    The spec is checked as a store's is (its codes re-derived from its formula and held to
    the allow-list) before anything is evaluated.
    """
    spec = spec_from_json(spec_json)
    formula = spec.get("formula") if isinstance(spec, dict) else None
    return infos_from_spec(
        spec, default_eval_env(), where="the design spec sent to this worker", formula=formula
    )


def build_part(
    source: Any,
    ranges: list[tuple[int, int]],
    spec_json: str,
    formula: str,
    missing: str,
    wcol: str | None,
    part: str,
    layout: dict,
) -> tuple[int, int]:
    """Worker task: build the blocks ``ranges`` of ``source`` into the part store ``part``.

    patsy's DesignInfo does not pickle: the formula state travels as its JSON spec and is
    rebuilt here. The part is written atomically, so a task rerun after a lost worker
    replaces it whole. Returns ``(rows written, rows dropped)``.
    """
    infos = infos_for(spec_json)
    with store.DesignWriter(part, **layout) as writer:
        blocks = (source.block(a, b) for a, b in ranges)
        dropped = append_blocks(writer, source, blocks, infos, missing, wcol, formula)
        writer.commit({"part": 1, "n_dropped": dropped})
    return writer.n, dropped


def write_parts(
    source: Any,
    groups: list,
    final: str,
    layout: dict,
    args: tuple,
    finish: Callable[[int, int], dict],
) -> None:
    """Build the store ``final`` on a dask.distributed cluster, assembled over parts.

    Each worker builds a run of blocks (``groups``) of ``source`` into a part store of its
    own (one writer per file: HDF5 has no safe concurrent writers), in a fresh parts
    directory beside ``final``; ``args`` are :func:`build_part`'s ``(spec_json, formula,
    missing, wcol)``. ``finish(rows, dropped)`` checks the counts (raising to refuse the
    store) and returns the store's attributes; the store is then assembled over the parts
    without a row passing through this process (:mod:`~ooc_accessor.assemble`). On any
    failure the parts directory is removed.
    """
    store.check_target(final)  # a user's file there is refused before any work
    directory = assemble.parts_dir(final)
    try:
        parts = [os.path.join(directory, f"part-{i:05d}.nc") for i in range(len(groups))]
        tasks = [
            progress.leaf(
                delayed(build_part, pure=False)(source, g, *args, part, layout), reduce.rows_of(g)
            )
            for g, part in zip(groups, parts, strict=True)
        ]
        row_bytes = progress.source_row_bytes(source)
        counts = reduce.compute(*tasks, desc="design: build", row_bytes=row_bytes)
        attrs = finish(sum(c[0] for c in counts), sum(c[1] for c in counts))
        assemble.assemble(final, directory, parts, layout, attrs)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
