# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""containerd_containers: converge a list of containers in one module call.

Each item goes through exactly what containerd_container does (``ContainerRequest`` to
validate, ``ContainerManager`` to decide and act); what the batch adds is sharing:

- every item is validated (against containerd_container's own argument spec) before the
  host is touched, so a bad item fails the task with nothing changed;
- containers, tasks and images are listed once per call (``ContainerdView``), not once per
  container;
- the containers are converged on a few threads: most of a container's time is spent
  waiting for ``ctr`` and containerd, not in Python.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Tuple

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.ocistack.engine.plugins.module_utils._container_request import (
    CONTAINER_ARGUMENT_SPEC,
    CONTAINER_REQUIRED_IF,
    ContainerRequest,
)
from ansible_collections.ocistack.engine.plugins.module_utils._containerd_view import ContainerdView, run_parallel
from ansible_collections.ocistack.engine.plugins.module_utils._containers import ContainerManager
from ansible_collections.ocistack.engine.plugins.module_utils._ctr import DEFAULT_NAMESPACE, client_from_params
from ansible_collections.ocistack.engine.plugins.module_utils._errors import OcistackError, OptionError
from ansible_collections.ocistack.engine.plugins.module_utils._registry import access_from_params

__all__ = ["ITEM_OPTIONS", "check_defaults", "item_params", "manage_containers"]

# Options an item may carry: containerd_container's, without the connection and registry ones,
# which the batch shares (one client, one registry access).
ITEM_OPTIONS = tuple(CONTAINER_ARGUMENT_SPEC)


def check_defaults(defaults: Mapping[str, Any]) -> None:
    """``defaults`` may hold any item option but ``name``; its values are checked with each item."""
    unknown = sorted(key for key in defaults if key not in ITEM_OPTIONS or key == "name")
    if unknown:
        raise OptionError(
            "defaults",
            f"{', '.join(unknown)} cannot be a default; use options of containerd_container other than name "
            f"({', '.join(option for option in ITEM_OPTIONS if option != 'name')})",
        )


def item_params(item: Mapping[str, Any], defaults: Mapping[str, Any], where: str) -> Dict[str, Any]:
    """One item merged over ``defaults`` and validated like containerd_container's parameters.

    Errors name the item (``containers[3]``) and the option.
    """
    if not isinstance(item, Mapping):
        raise OptionError(where, f"must be a dict of containerd_container options, not {type(item).__name__}")
    merged = {key: value for key, value in (defaults or {}).items() if value is not None}
    merged.update({key: value for key, value in item.items() if value is not None})
    validator = ArgumentSpecValidator(CONTAINER_ARGUMENT_SPEC, required_if=CONTAINER_REQUIRED_IF)
    outcome = validator.validate(merged)
    if outcome.error_messages:
        name = merged.get("name")
        label = f"{where} ({name})" if isinstance(name, str) else where
        raise OptionError(label, "; ".join(outcome.error_messages))
    return outcome.validated_parameters


def _requests(params: Mapping[str, Any]) -> List[ContainerRequest]:
    namespace = params.get("namespace") or DEFAULT_NAMESPACE
    check_defaults(params.get("defaults") or {})
    requests: List[ContainerRequest] = []
    seen: Dict[str, int] = {}
    ports: Dict[Tuple[int, str], int] = {}
    for index, item in enumerate(params.get("containers") or []):
        where = f"containers[{index}]"
        validated = item_params(item, params.get("defaults") or {}, where)
        try:
            request = ContainerRequest(validated, namespace)
        except OptionError as error:
            message = str(error)[len(error.option) + 2 :]
            raise OptionError(f"{where}.{error.option}", f"({validated['name']}) {message}") from None
        if request.name in seen:
            raise OptionError(
                f"{where}.name", f"{request.name} is also containers[{seen[request.name]}]; container names are unique"
            )
        seen[request.name] = index
        for port in request.ports if request.state != "absent" else []:
            key = (port["hostPort"], port["protocol"])
            if key in ports:
                raise OptionError(
                    f"{where}.published_ports",
                    f"({request.name}) host port {key[0]}/{key[1]} is also published by containers[{ports[key]}]",
                )
            ports[key] = index
        requests.append(request)
    return requests


def manage_containers(module: Any) -> Dict[str, Any]:
    """containerd_containers: converge every item; returns the module result.

    A failing item does not stop the others (their results are reported); the call then fails
    with a message naming the item.
    """
    params = module.params
    workers = int(params.get("parallel") or 1)
    if workers < 1:
        raise OptionError("parallel", f"{workers} is not a number of workers; give 1 or more")
    requests = _requests(params)
    access = access_from_params(params)
    view = ContainerdView(client_from_params(module))
    view.prefetch([request.name for request in requests], workers)
    managers = [ContainerManager(module, request, view, access) for request in requests]
    befores = [manager.observe() for manager in managers]

    def converge(pair: Tuple[ContainerManager, Any]) -> Tuple[Dict[str, Any], str]:
        manager, before = pair
        try:
            return manager.run(before=before, observe_after=False), ""
        except OcistackError as error:
            failed = {"changed": bool(manager.actions), "actions": manager.actions, "failed": True}
            if manager.request.healthcheck is not None:
                failed.update(health=manager.health, rolled_back=manager.rolled_back)
            return failed, str(error)

    def observe_after(pair: Tuple[ContainerManager, Tuple[Dict[str, Any], str]]) -> Dict[str, Any]:
        manager, (result, error) = pair
        result.setdefault("container", None)
        try:
            return manager.finish(result)
        except OcistackError as read_error:
            if not error:
                raise
            # The item failed already; its message says why, the after-state is just unknown.
            manager.module.warn(f"{manager.request.name}: its state after the failure is unknown: {read_error}")
            return result

    outcomes = run_parallel(converge, list(zip(managers, befores)), workers)
    # The after-state of every changed container in one pass: one task listing, their infos in parallel.
    results = run_parallel(observe_after, list(zip(managers, outcomes)), workers)

    items = []
    for manager, result, (_result, error) in zip(managers, results, outcomes):
        item = {"name": manager.request.name, **result}
        if error:
            item["msg"] = error
        items.append(item)
    changed = any(item["changed"] for item in items)
    summary: Dict[str, Any] = {"changed": changed, "containers": items}
    # One item's rollback does not stop the others; the result names every container put back.
    summary["rolled_back"] = [item["name"] for item in items if item.get("rolled_back")]
    if module.check_mode:
        summary["health_checks"] = [item["name"] for item in items if "health check" in (item.get("actions") or [])]
    if module._diff:
        summary["diff"] = [
            {**item["diff"], "before_header": item["name"], "after_header": item["name"]}
            for item in items
            if item.get("changed") and "diff" in item
        ]
    failures = [
        f"containers[{index}] ({item['name']}): {item['msg']}" for index, item in enumerate(items) if item.get("msg")
    ]
    if failures:
        summary["failed"] = True
        summary["msg"] = "; ".join(failures)
    return summary
