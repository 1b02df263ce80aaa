"""A minimal CRI client for the tests: image_service.proto compiled at test time (grpcio-tools)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Tuple

PROTO = Path(__file__).resolve().parent / "image_service.proto"


def compile_image_service(out_dir: Path) -> Tuple[ModuleType, ModuleType]:
    """Compile image_service.proto into out_dir and import it: (messages, grpc stubs)."""
    from grpc_tools import protoc  # noqa: PLC0415 - only the CRI tests need it

    out_dir.mkdir(parents=True, exist_ok=True)
    code = protoc.main(
        [
            "grpc_tools.protoc",
            f"--proto_path={PROTO.parent}",
            f"--python_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            str(PROTO),
        ]
    )
    if code != 0:
        raise RuntimeError(f"protoc failed on {PROTO} (exit {code})")
    sys.path.insert(0, str(out_dir))
    try:
        return importlib.import_module("image_service_pb2"), importlib.import_module("image_service_pb2_grpc")
    finally:
        sys.path.remove(str(out_dir))
