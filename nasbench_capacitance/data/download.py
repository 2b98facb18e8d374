"""Fetch CIFAR-10 for users who are online: the official archive, checked against its published checksum.

The file lands in ``<data root>/cifar10/`` under its own name, written to a ``.part`` file first and
renamed only once its checksum matches, so an interrupted or corrupted download never looks usable.
Any URL urllib opens works (``file://`` included, which is how the tests exercise it offline).
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from .. import paths
from .cifar10 import DataError

CHUNK = 1 << 20


def _parse_checksum(checksum: str) -> tuple[str, str]:
    algorithm, _, digest = checksum.partition(":")
    if not digest or algorithm not in hashlib.algorithms_available:
        raise DataError(f"checksum {checksum!r}: write ALGORITHM:HEX, e.g. md5:c58f... or sha256:d877...")
    return algorithm, digest.lower()


def file_digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def download_cifar10(
    url: str = paths.CIFAR10_URL, checksum: str = paths.CIFAR10_CHECKSUM, data_root: str | os.PathLike | None = None
) -> Path:
    """The archive at ``url`` in ``<data root>/cifar10/``, verified; kept as is when already there and valid."""
    algorithm, expected = _parse_checksum(checksum)
    name = Path(urllib.parse.urlparse(url).path).name
    if not name:
        raise DataError(f"{url!r} names no file to download")
    target = paths.data_root(data_root) / "cifar10" / name
    if target.is_file() and file_digest(target, algorithm) == expected:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    h = hashlib.new(algorithm)
    try:
        with urllib.request.urlopen(url) as response, open(partial, "wb") as out:
            for chunk in iter(lambda: response.read(CHUNK), b""):
                h.update(chunk)
                out.write(chunk)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        partial.unlink(missing_ok=True)
        raise DataError(f"could not download {url}: {exc}; check the address and your connection") from None
    if h.hexdigest() != expected:
        partial.unlink(missing_ok=True)
        raise DataError(
            f"{url} has {algorithm} {h.hexdigest()}, expected {expected}: the download is damaged; try again"
        )
    os.replace(partial, target)
    return target
