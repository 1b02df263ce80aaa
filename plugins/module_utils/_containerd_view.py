# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one module run reads from containerd, read once and shared by every container it
converges (ContainerdView), and the thread pool the batch converges them on (run_parallel).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.ocistack.engine.plugins.module_utils._ctr import Ctr
from ansible_collections.ocistack.engine.plugins.module_utils._registry import RegistryAccess

__all__ = ["ContainerdView", "run_parallel"]


def run_parallel(function: Callable[[Any], Any], items: Sequence[Any], workers: int) -> List[Any]:
    """``[function(item) for item in items]`` on up to ``workers`` threads, results in order.

    Every item runs even when another raises; the first exception (in item order) is raised
    after all are done, so no container is left half-converged by an early exit.
    """
    if workers <= 1 or len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        futures = [pool.submit(function, item) for item in items]
        wait(futures)
    return [future.result() for future in futures]


class ContainerdView:
    """What one module run has read from containerd, shared by every container it converges.

    A run over twenty containers then lists containers, tasks and images once instead of once
    per container. A container the run changed is forgotten, so the next read of it (and of
    the task list) goes back to containerd. Safe to use from the batch's worker threads.
    """

    def __init__(self, client: Ctr) -> None:
        self.client = client
        self._lock = threading.RLock()
        self._infos: Dict[str, Optional[Dict[str, Any]]] = {}
        self._tasks: Optional[Dict[str, Dict[str, Any]]] = None
        self._stale_tasks: set = set()
        self._images: Dict[str, Optional[Dict[str, Any]]] = {}
        self._details: Dict[Tuple[str, Optional[str]], Dict[str, Any]] = {}
        self._remote_digests: Dict[str, str] = {}
        self._image_locks: Dict[str, threading.Lock] = {}
        self._pulled: set = set()

    def prefetch(self, names: Sequence[str], workers: int = 1) -> None:
        """Read the given containers (one listing, then ``info`` of those that exist) and the tasks."""
        existing = set(self.client.container_ids())
        present = [name for name in names if name in existing]
        infos = run_parallel(self.client.container, present, workers)
        with self._lock:
            for name in names:
                self._infos[name] = None
            self._infos.update(zip(present, infos))
        self.tasks()

    def container(self, name: str) -> Optional[Dict[str, Any]]:
        with self._lock:
            if name in self._infos:
                info = self._infos[name]
                return None if info is None else dict(info)
        info = self.client.container(name)
        with self._lock:
            self._infos[name] = info
        return None if info is None else dict(info)

    def tasks(self) -> Dict[str, Dict[str, Any]]:
        with self._lock:
            if self._tasks is None or self._stale_tasks:
                self._tasks = self.client.tasks()
                self._stale_tasks.clear()
            return dict(self._tasks)

    def task(self, name: str) -> Optional[Dict[str, Any]]:
        return self.tasks().get(name)

    def forget(self, name: str) -> None:
        """``name`` was changed: read it and the task list again when next asked."""
        with self._lock:
            self._infos.pop(name, None)
            self._stale_tasks.add(name)

    def remember(self, name: str, info: Dict[str, Any]) -> None:
        """``name`` was just created as ``info`` says (what we wrote is what containerd stores)."""
        with self._lock:
            self._infos[name] = info
            self._stale_tasks.add(name)

    def labelled(self, name: str, labels: Mapping[str, str]) -> None:
        """``labels`` were just set on ``name``."""
        with self._lock:
            info = self._infos.get(name)
            if info is None:
                self._infos.pop(name, None)
            else:
                info["labels"] = {**info["labels"], **labels}

    # -- images: one lookup per reference, one pull per reference and run

    @contextmanager
    def image_lock(self, reference: str) -> Iterator[None]:
        """Serialises lookups and pulls of one reference, so two containers never pull it twice at once."""
        with self._lock:
            lock = self._image_locks.setdefault(reference, threading.Lock())
        with lock:
            yield

    def image(self, reference: str) -> Optional[Dict[str, Any]]:
        if reference not in self._images:
            self._images[reference] = self.client.image(reference)
        return self._images[reference]

    def pulled(self, reference: str) -> bool:
        return reference in self._pulled

    def pull(self, reference: str, access: RegistryAccess, platform: Optional[str]) -> Optional[Dict[str, Any]]:
        self.client.pull(reference, access, platform)
        self._pulled.add(reference)
        self._images.pop(reference, None)
        return self.image(reference)

    def remote_digest(self, reference: str, access: RegistryAccess) -> str:
        if reference not in self._remote_digests:
            self._remote_digests[reference] = self.client.resolve_remote_digest(reference, access)
        return self._remote_digests[reference]

    def image_details(self, image: Mapping[str, Any], platform: Optional[str]) -> Dict[str, Any]:
        key = (image["digest"], platform)
        with self._lock:
            if key in self._details:
                return self._details[key]
        details = self.client.image_details(image, platform)
        with self._lock:
            self._details[key] = details
        return details
