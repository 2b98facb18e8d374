"""Plug-ins: a user's metrics, in a Python file or an importable module, registered with ``metric``.

A plug-in is loaded once per process; its metrics enter the one registry with their origin
(``plugin:<file>``) and its content hash. Workers (a process pool, Ray tasks) receive the plug-ins
the driver loaded, a file's source travelling with the task, so every node computes the same metric
without sharing a filesystem. A store's identity names the plug-ins whose metrics it holds and their
hashes, so a changed plug-in never resumes a run made with the old one.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import _ORIGIN, REGISTRY

ENV = "NBCAP_PLUGINS"  # os.pathsep-separated plug-ins every nbcap command loads


class PluginError(ValueError):
    """A plug-in that cannot be loaded; ``user_traceback`` holds the plug-in's own frames when its code raised."""

    def __init__(self, message: str, user_traceback: str = ""):
        super().__init__(message)
        self.user_traceback = user_traceback


@dataclass(frozen=True)
class Plugin:
    """One loaded plug-in: how it was named, its file, its content hash and the metrics it registered."""

    spec: str
    path: str  # the file it was read from ("" for a module without one)
    sha256: str
    metrics: tuple[str, ...]
    source: str = ""  # a file plug-in's text, shipped to workers; "" for a module (imported by name there)

    @property
    def label(self) -> str:
        return Path(self.path).name if self.path else self.spec

    def provenance(self) -> dict[str, object]:
        return {"plugin": self.spec, "path": self.path, "sha256": self.sha256, "metrics": list(self.metrics)}


_LOADED: dict[str, Plugin] = {}  # sha256 -> plug-in, in this process


def loaded() -> list[Plugin]:
    """The plug-ins this process has loaded, in order."""
    return list(_LOADED.values())


def owner(metric: str) -> Plugin | None:
    """The plug-in that registered ``metric`` (None for a built-in or imported metric)."""
    return next((p for p in _LOADED.values() if metric in p.metrics), None)


def identity(metrics: Iterable[str]) -> dict[str, str]:
    """{plug-in file: sha256} of the plug-ins that registered any of ``metrics`` (empty for built-ins only)."""
    return {p.label: p.sha256 for p in (owner(m) for m in metrics) if p is not None}


def provenance() -> list[dict[str, object]]:
    return [p.provenance() for p in _LOADED.values()]


@contextmanager
def _registering(origin: str) -> Iterator[list[str]]:
    """Collect the metrics registered inside the block; remove them again if the block raises."""
    before = set(REGISTRY)
    _ORIGIN.append(origin)
    added: list[str] = []
    try:
        yield added
    except BaseException:
        for name in set(REGISTRY) - before:
            del REGISTRY[name]
        raise
    finally:
        _ORIGIN.pop()
        added.extend(name for name in REGISTRY if name not in before)


def _user_frames(exc: BaseException, path: str) -> str:
    """The traceback of ``exc`` from the plug-in's own frames on (what the user needs to fix it)."""
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [i for i, f in enumerate(frames) if path and f.filename == path]
    kept = frames[mine[0] :] if mine else frames
    return "".join(traceback.format_list(kept)) + "".join(traceback.format_exception_only(type(exc), exc))


def _execute(spec: str, path: str, source: str) -> list[str]:
    """Run a plug-in's code as a module of its own; the names of the metrics it registered."""
    name = f"nbcap_plugin_{hashlib.sha256(source.encode()).hexdigest()[:12]}"
    module_spec = importlib.util.spec_from_loader(name, loader=None, origin=path or spec)
    assert module_spec is not None
    module = importlib.util.module_from_spec(module_spec)
    module.__file__ = path or spec
    with _registering(f"plugin:{Path(path).name if path else spec}") as added:
        try:
            exec(compile(source, path or spec, "exec"), module.__dict__)  # noqa: S102  (the user's own plug-in)
        except ValueError as exc:
            if "is registered twice" in str(exc):
                raise PluginError(f"plug-in {spec}: {exc}") from None
            raise PluginError(f"plug-in {spec} raised {type(exc).__name__}: {exc}", _user_frames(exc, path)) from None
        except Exception as exc:
            raise PluginError(f"plug-in {spec} raised {type(exc).__name__}: {exc}", _user_frames(exc, path)) from None
    sys.modules[name] = module
    return added


def load_plugin(spec: str | os.PathLike) -> Plugin:
    """Load a plug-in: a ``.py`` file, or an importable module (``package.module``); once per process.

    Its metrics register with :func:`nasbench_capacitance.metrics.metric` (any kind; a zero-cost proxy may
    read the passes the built-in proxies share, docs/metrics.md). Refused with one message naming the fix:
    a file that does not exist, a module that cannot be imported, code that raises (with the plug-in's
    own traceback in ``PluginError.user_traceback``), a plug-in that registers no metric or a name taken.
    """
    text = str(spec)
    path = Path(text).expanduser()
    if text.endswith(".py") or path.exists() or os.sep in text:
        if not path.is_file():
            raise PluginError(f"plug-in {text} not found: give the path of a .py file, or an importable module name")
        source = path.read_text()
        return _remember(text, str(path.resolve()), source, lambda: _execute(text, str(path.resolve()), source))
    try:
        module_spec = importlib.util.find_spec(text)
    except (ImportError, ValueError):
        module_spec = None
    if module_spec is None:
        raise PluginError(f"plug-in {text}: no such file, and no module of that name can be imported")
    file = module_spec.origin or ""
    source = Path(file).read_text() if file and Path(file).is_file() else text
    return _remember(text, file, "", lambda: _import(text, file), digest_of=source)


def _import(name: str, path: str) -> list[str]:
    with _registering(f"plugin:{name}") as added:
        try:
            importlib.import_module(name)
        except Exception as exc:
            raise PluginError(f"plug-in {name} raised {type(exc).__name__}: {exc}", _user_frames(exc, path)) from None
    return added


def _remember(spec: str, path: str, source: str, load, digest_of: str | None = None) -> Plugin:
    digest = hashlib.sha256((digest_of if digest_of is not None else source).encode()).hexdigest()
    if digest in _LOADED:
        return _LOADED[digest]
    added = load()
    if not added:
        raise PluginError(
            f"plug-in {spec} registers no metric: decorate a function with "
            "nasbench_capacitance.metrics.metric(name, kind=..., description=...) (docs/metrics.md)"
        )
    plugin = Plugin(spec, path, digest, tuple(added), source)
    _LOADED[digest] = plugin
    return plugin


def load_all(specs: Iterable[str | os.PathLike] = ()) -> list[Plugin]:
    """The plug-ins named in ``NBCAP_PLUGINS`` (os.pathsep-separated), then ``specs``."""
    from_env = [s for s in os.environ.get(ENV, "").split(os.pathsep) if s.strip()]
    return [load_plugin(s) for s in [*from_env, *specs]]


def ensure(plugins: Iterable[Plugin]) -> None:
    """In a worker: the driver's plug-ins, loaded from the source they carry (a module: by its name)."""
    for plugin in plugins:
        if plugin.sha256 in _LOADED:
            continue
        if plugin.source:
            _remember(plugin.spec, plugin.path, plugin.source, lambda p=plugin: _execute(p.spec, p.path, p.source))
        else:
            load_plugin(plugin.spec)
