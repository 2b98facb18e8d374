"""CIFAR-10 for NB201 training: any supported source -> one uint8 cache -> device-resident batches.

Sources, looked for under ``<data root>/cifar10/`` (or given directly):

- the official python batches: a ``cifar-10-batches-py/`` folder or ``cifar-10-python.tar.gz``;
- an image folder ``train/<class>/*`` and ``test/<class>/*`` (class folders named as in CLASSES);
- ``cifar10-jpeg.tar.gz``: the same image-folder layout inside a gzipped tar.

The first load decodes the source into ``<cache>/cifar10-<key>.npz`` (uint8, NHWC); later loads read
that file only. Training data then lives on the training device as uint8 and is augmented per batch
with tensor ops (random crop with zero padding, horizontal flip) before NB201's normalisation.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import sys
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from .. import paths

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
# NB201 / xautodl normalisation for CIFAR (not the torchvision constants).
MEAN = tuple(v / 255 for v in (125.3, 123.0, 113.9))
STD = tuple(v / 255 for v in (63.0, 62.1, 66.7))
SPLITS = ("cifar10", "cifar10-valid")
SPLIT_SIZES = {  # images each split can give: its training set and its evaluation set
    "cifar10": {"train_images": 50000, "valid_images": 10000},
    "cifar10-valid": {"train_images": 25000, "valid_images": 25000},
}
RESOLUTIONS = (8, 32)  # the smallest and largest image side a network is trained at
VALID_SPLIT_SEED = 201  # fixes the 25k/25k cifar10-valid split, stratified by class
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


class DataError(RuntimeError):
    """A dataset source is missing or unreadable; the message says what was looked for."""


@dataclass
class Cifar10:
    """All 60,000 images, uint8 NHWC, in a canonical order (official order, or class then file name)."""

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    source: str


# ----------------------------------------------------------------------------- finding and decoding


def candidate_sources(root: Path) -> list[Path]:
    base = root / "cifar10"
    return [
        base / "cifar-10-batches-py",
        base / "cifar-10-python.tar.gz",
        base / "cifar10-jpeg.tar.gz",
        base,  # image folder with train/ and test/
    ]


def _looks_usable(path: Path) -> bool:
    if path.is_file():
        return True
    return path.is_dir() and (
        (path / "data_batch_1").is_file() or ((path / "train").is_dir() and (path / "test").is_dir())
    )


def find_source(data_root: str | os.PathLike | None = None) -> Path:
    """The first usable CIFAR-10 source under the data root; a clear error listing the candidates."""
    root = paths.data_root(data_root)
    candidates = candidate_sources(root)
    for path in candidates:
        if _looks_usable(path):
            return path
    listed = "\n  ".join(str(p) for p in candidates)
    raise DataError(
        f"no CIFAR-10 found under data root {root}. Looked for:\n  {listed}\n"
        f"Fetch it with `nbcap data --download`, put one of them there, or set {paths.DATA_ENV} (or pass data_root "
        "/ source) to the folder that holds cifar10/."
    )


def _decode_images(blobs: list[bytes], names: list[str]) -> np.ndarray:
    from PIL import Image

    def decode(item: tuple[bytes, str]) -> np.ndarray:
        blob, name = item
        try:
            with Image.open(io.BytesIO(blob)) as im:
                arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
        except Exception as exc:  # PIL raises many types for bad files
            raise DataError(f"cannot decode image {name}: {exc}") from exc
        if arr.shape != (32, 32, 3):
            raise DataError(f"image {name} has shape {arr.shape}, CIFAR-10 images are 32x32 RGB")
        return arr

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # PIL releases the GIL while decoding
        return np.stack(list(pool.map(decode, zip(blobs, names), chunksize=256)))


def _split_from_files(files: dict[str, bytes], part: str) -> tuple[np.ndarray, np.ndarray]:
    """Images of ``part`` (train/test) from {relative path: bytes}, ordered by class then file name."""
    blobs, names, labels = [], [], []
    for label, cls in enumerate(CLASSES):
        prefix = f"{part}/{cls}/"
        members = sorted(n for n in files if n.startswith(prefix) and n.lower().endswith(IMAGE_SUFFIXES))
        if not members:
            raise DataError(f"no images found for {prefix}* in the CIFAR-10 source")
        blobs += [files[n] for n in members]
        names += members
        labels += [label] * len(members)
    return _decode_images(blobs, names), np.asarray(labels, dtype=np.int64)


def _strip_to_layout(name: str) -> str | None:
    """Path relative to the folder that holds train/ and test/ (archives may add a top folder)."""
    parts = name.replace("\\", "/").split("/")
    for i, p in enumerate(parts):
        if p in ("train", "test"):
            return "/".join(parts[i:])
    return None


def _member_bytes(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    handle = tar.extractfile(member)
    if handle is None:
        raise DataError(f"{member.name} in {tar.name!r} is not a regular file")
    return handle.read()


def _batches_from_pickles(load: Callable[[str], bytes]) -> Cifar10 | None:
    def read(name: str) -> tuple[np.ndarray, np.ndarray]:
        d = pickle.loads(load(name), encoding="bytes")
        x = np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        return np.ascontiguousarray(x), np.asarray(d[b"labels"], dtype=np.int64)

    parts = [read(f"data_batch_{i}") for i in range(1, 6)]
    test_x, test_y = read("test_batch")
    return Cifar10(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), test_x, test_y, "")


def decode_source(path: str | os.PathLike, expected: tuple[int, int] = (50000, 10000)) -> Cifar10:
    """Decode any supported CIFAR-10 source into arrays (slow: done once, then cached).

    ``expected`` is the (train, test) image count that makes a source complete.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"CIFAR-10 source {path} does not exist")
    try:
        if path.is_dir() and (path / "data_batch_1").is_file():
            data = _batches_from_pickles(lambda n: (path / n).read_bytes())
        elif path.is_dir():
            files = {}
            for f in path.rglob("*"):
                rel = _strip_to_layout(str(f.relative_to(path)))
                if f.is_file() and rel:
                    files[rel] = f.read_bytes()
            data = Cifar10(*_split_from_files(files, "train"), *_split_from_files(files, "test"), "")
        else:
            with tarfile.open(path, "r:*") as tar:
                members = {m.name: m for m in tar.getmembers() if m.isfile()}
                batch_names = {Path(n).name: n for n in members if "cifar-10-batches-py" in n}
                if "data_batch_1" in batch_names:
                    data = _batches_from_pickles(lambda n: _member_bytes(tar, members[batch_names[n]]))
                else:
                    files = {}
                    for name, member in members.items():
                        rel = _strip_to_layout(name)
                        if rel:
                            files[rel] = _member_bytes(tar, member)
                    data = Cifar10(*_split_from_files(files, "train"), *_split_from_files(files, "test"), "")
    except (tarfile.TarError, EOFError, OSError, KeyError, pickle.UnpicklingError) as exc:
        raise DataError(f"CIFAR-10 source {path} is unreadable or incomplete ({type(exc).__name__}: {exc})") from exc
    if data is None:
        raise DataError(f"CIFAR-10 source {path} holds no usable data batches")
    if (len(data.train_x), len(data.test_x)) != tuple(expected):
        raise DataError(
            f"CIFAR-10 source {path} holds {len(data.train_x)} train / {len(data.test_x)} test images, "
            f"expected {expected[0]} / {expected[1]}: the source is incomplete"
        )
    data.source = str(path)
    return data


def _cache_file(source: Path, cache_dir: Path) -> Path:
    stat = source.stat()
    key = hashlib.sha1(f"{source.resolve()}|{stat.st_size if source.is_file() else 'dir'}".encode()).hexdigest()[:12]
    return cache_dir / f"cifar10-{key}.npz"


CACHE_SHAPES = {"train_x": (50000, 32, 32, 3), "train_y": (50000,), "test_x": (10000, 32, 32, 3), "test_y": (10000,)}


def check_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache folder, made if missing; refused before any decoding when it cannot be one."""
    folder = paths.cache_root(cache_dir)
    if folder.exists() and not folder.is_dir():
        raise DataError(f"the cache location {folder} is a file: point {paths.CACHE_ENV} at a folder (made if missing)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(
            f"cannot create the cache folder {folder} ({exc.strerror}): point {paths.CACHE_ENV} at a writable folder"
        ) from None
    if not os.access(folder, os.W_OK):
        raise DataError(f"the cache folder {folder} is not writable: point {paths.CACHE_ENV} at a writable folder")
    return folder


def read_cache(cache: Path) -> tuple[Cifar10 | None, str]:
    """The cached arrays, verified (every array there, of the right shape and type, labels 0..9), or the problem."""
    try:
        with np.load(cache) as z:
            arrays = {name: z[name] for name in CACHE_SHAPES}
            source = str(z["source"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    for name, shape in CACHE_SHAPES.items():
        if arrays[name].shape != shape:
            return None, f"{name} has shape {arrays[name].shape}, not {shape}"
    if arrays["train_x"].dtype != np.uint8 or arrays["test_x"].dtype != np.uint8:
        return None, "the images are not uint8"
    labels = np.concatenate([arrays["train_y"], arrays["test_y"]])
    if labels.min() < 0 or labels.max() >= len(CLASSES):
        return None, "labels outside 0..9"
    return Cifar10(arrays["train_x"], arrays["train_y"], arrays["test_x"], arrays["test_y"], source), ""


def cache_state(source: Path, cache_dir: str | os.PathLike | None = None) -> tuple[Path, str]:
    """The cache file of a source and its state: ``missing``, ``sound`` or ``damaged (why)``."""
    cache = _cache_file(source, paths.cache_root(cache_dir))
    if not cache.is_file():
        return cache, "missing (built on the first load, or by nbcap data --prepare)"
    data, problem = read_cache(cache)
    return cache, "sound" if data is not None else f"damaged ({problem}): rebuilt on the next load"


def source_problem(path: Path) -> str | None:
    """Why a CIFAR-10 source cannot be decoded (a missing part, a truncated or corrupt archive), or None."""
    if not _looks_usable(path):
        return "not found"
    if path.is_file():
        try:
            with tarfile.open(path, "r:*") as tar:
                for _ in tar:  # reads the whole archive: a truncated one fails here
                    pass
        except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            return f"unreadable: {type(exc).__name__}: {exc}"
    return None


def load_cifar10(
    source: str | os.PathLike | None = None,
    data_root: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> Cifar10:
    """All of CIFAR-10 as uint8 arrays, decoding ``source`` (or the one found under the data root) once."""
    src = Path(source) if source is not None else find_source(data_root)
    if not src.exists():
        raise DataError(f"CIFAR-10 source {src} does not exist")
    cache = _cache_file(src, check_cache_dir(cache_dir))
    if cache.is_file():
        data, problem = read_cache(cache)
        if data is not None:
            return data
        sys.stderr.write(f"the CIFAR-10 cache {cache} is damaged ({problem}): rebuilding it from {src}\n")
        cache.unlink(missing_ok=True)
    data = decode_source(src)
    tmp = cache.with_suffix(f".tmp{os.getpid()}.npz")
    np.savez(
        tmp, train_x=data.train_x, train_y=data.train_y, test_x=data.test_x, test_y=data.test_y, source=data.source
    )
    os.replace(tmp, cache)
    return data


# ----------------------------------------------------------------------------- splits


def _stratified_order(labels: np.ndarray, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.permutation(np.flatnonzero(labels == c)) for c in range(len(CLASSES))]


def _stratified_take(labels: np.ndarray, indices: np.ndarray, n: int | None, seed: int) -> np.ndarray:
    """``n`` of ``indices``, balanced over classes and seeded; all of them when ``n`` is None."""
    if n is None:
        return indices
    if not 0 < n <= len(indices):
        raise ValueError(f"subset size must be in 1..{len(indices)}, got {n}")
    per_class = _stratified_order(labels[indices], seed)
    chosen = []
    for rank in range(max(len(p) for p in per_class)):  # round-robin over classes keeps them balanced
        chosen += [p[rank] for p in per_class if rank < len(p)]
        if len(chosen) >= n:
            break
    return np.sort(indices[np.asarray(chosen[:n])])


def split_indices(data: Cifar10, split: str) -> tuple[np.ndarray, np.ndarray, str]:
    """(train indices into train_x, evaluation indices, which array they index: 'train' or 'test')."""
    if split == "cifar10":
        return np.arange(len(data.train_y)), np.arange(len(data.test_y)), "test"
    if split == "cifar10-valid":
        halves = [(p[: len(p) // 2], p[len(p) // 2 :]) for p in _stratified_order(data.train_y, VALID_SPLIT_SEED)]
        return np.sort(np.concatenate([h[0] for h in halves])), np.sort(np.concatenate([h[1] for h in halves])), "train"
    raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")


# ----------------------------------------------------------------------------- on the device


def default_padding(resolution: int) -> int:
    """NB201 pads 32x32 images by 4 before cropping; keep the same fraction at other resolutions."""
    return max(1, round(4 * resolution / 32))


class DeviceImages:
    """A split resident on one device as uint8 NCHW, with batched augmentation and normalisation."""

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        device: str | torch.device = "cpu",
        resolution: int = 32,
        channels_last: bool = False,
    ):
        self.device = torch.device(device)
        images = torch.from_numpy(np.ascontiguousarray(x)).to(self.device).permute(0, 3, 1, 2)
        if resolution != images.shape[-1]:
            resized = F.interpolate(
                images.float(), size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False
            )
            images = resized.round_().clamp_(0, 255).to(torch.uint8)
        self.x = images.contiguous()
        self.y = torch.from_numpy(np.asarray(y, dtype=np.int64)).to(self.device)
        self.resolution = resolution
        self.padding = default_padding(resolution)
        self.channels_last = channels_last
        self._scale = (1.0 / (255.0 * torch.tensor(STD, device=self.device))).view(1, 3, 1, 1)
        self._shift = (-torch.tensor(MEAN, device=self.device) / torch.tensor(STD, device=self.device)).view(1, 3, 1, 1)

    def __len__(self) -> int:
        return len(self.y)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        out = x.float() * self._scale + self._shift
        return out.contiguous(memory_format=torch.channels_last) if self.channels_last else out

    def augment(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Random crop (zero padding) and horizontal flip for a whole uint8 batch, in one gather."""
        b, c, h, w = x.shape
        p = self.padding
        padded = F.pad(x, (p, p, p, p))
        oy = torch.randint(0, 2 * p + 1, (b, 1), device=x.device, generator=generator)
        ox = torch.randint(0, 2 * p + 1, (b, 1), device=x.device, generator=generator)
        flip = torch.rand((b, 1), device=x.device, generator=generator) < 0.5
        rows = oy + torch.arange(h, device=x.device)
        cols = ox + torch.arange(w, device=x.device)
        cols = torch.where(flip, cols.flip(1), cols)
        batch = torch.arange(b, device=x.device).view(b, 1, 1, 1)
        chan = torch.arange(c, device=x.device).view(1, c, 1, 1)
        return padded[batch, chan, rows.view(b, 1, h, 1), cols.view(b, 1, 1, w)]

    def batches(
        self, batch_size: int, generator: torch.Generator | None = None, shuffle: bool = False, augment: bool = False
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Normalised float batches; the last one may be smaller (as NB201's loaders)."""
        if (shuffle or augment) and generator is None:
            raise ValueError("shuffling or augmenting needs a torch.Generator on the data's device")
        order = torch.randperm(len(self), device=self.device, generator=generator) if shuffle else None
        for start in range(0, len(self), batch_size):
            idx = order[start : start + batch_size] if order is not None else slice(start, start + batch_size)
            x = self.x[idx]
            if augment and generator is not None:
                x = self.augment(x, generator)
            yield self.normalise(x), self.y[idx]

    def fixed_batch(self, n: int, seed: int = 0, augment: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` class-balanced images chosen by ``seed``, normalised (e.g. the probe batch, the proxies' batch).

        Splits are stored in class order for some sources, so "the first n" would be one class.
        ``augment`` applies the training augmentations with a generator seeded by ``seed``.
        """
        labels = self.y.cpu().numpy()
        chosen = _stratified_take(labels, np.arange(len(labels)), min(n, len(labels)), seed)
        idx = torch.from_numpy(chosen).to(self.device)
        x = self.x[idx]
        if augment:
            x = self.augment(x, torch.Generator(device=self.device).manual_seed(seed))
        return self.normalise(x), self.y[idx]


@dataclass
class TrainingData:
    train: DeviceImages
    valid: DeviceImages
    split: str
    description: dict


def prepare(
    split: str = "cifar10-valid",
    *,
    device: str | torch.device = "cpu",
    resolution: int = 32,
    train_subset: int | None = None,
    valid_subset: int | None = None,
    subset_seed: int = 0,
    data: Cifar10 | None = None,
    source: str | os.PathLike | None = None,
    data_root: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    channels_last: bool = False,
) -> TrainingData:
    """Training and evaluation images of an NB201 split on ``device``, optionally subset and resized.

    ``cifar10`` trains on all 50k and evaluates on the 10k test images; ``cifar10-valid`` trains on a
    fixed, class-stratified 25k of the training set and evaluates on the other 25k (our fixed split:
    NB201's own split file is not bundled). Subsets are class-balanced and seeded.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if not RESOLUTIONS[0] <= resolution <= RESOLUTIONS[1]:
        raise ValueError(f"resolution must be between {RESOLUTIONS[0]} and {RESOLUTIONS[1]} pixels, got {resolution}")
    data = data if data is not None else load_cifar10(source, data_root, cache_dir)
    train_idx, eval_idx, eval_from = split_indices(data, split)
    train_idx = _stratified_take(data.train_y, train_idx, train_subset, subset_seed)
    eval_x, eval_y = (data.test_x, data.test_y) if eval_from == "test" else (data.train_x, data.train_y)
    eval_idx = _stratified_take(eval_y, eval_idx, valid_subset, subset_seed + 1)
    description = {
        "split": split,
        "source": data.source,
        "resolution": resolution,
        "train_images": int(len(train_idx)),
        "eval_images": int(len(eval_idx)),
        "eval_set": "test" if eval_from == "test" else "held-out train",
        "subset_seed": subset_seed,
        "padding": default_padding(resolution),
    }
    return TrainingData(
        DeviceImages(data.train_x[train_idx], data.train_y[train_idx], device, resolution, channels_last),
        DeviceImages(eval_x[eval_idx], eval_y[eval_idx], device, resolution, channels_last),
        split,
        description,
    )
