"""Regenerate the Python code for protos/vohub/v1/*.proto (messages, stubs and type stubs).

Run through ``make protos``; ``make lint`` runs it and fails if the committed code differs.
"""

from __future__ import annotations

import shutil
import sys
from importlib.resources import files
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent / "protos"


def main() -> int:
    protos = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "vohub" / "v1").glob("*.proto"))
    bin_dir = Path(sys.executable).parent
    args = [
        "grpc_tools.protoc",
        f"--proto_path={ROOT}",
        f"--proto_path={files('grpc_tools') / '_proto'}",
        f"--python_out={ROOT}",
        f"--grpc_python_out={ROOT}",
        f"--plugin=protoc-gen-mypy={bin_dir / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={bin_dir / 'protoc-gen-mypy_grpc'}",
        f"--mypy_out={ROOT}",
        f"--mypy_grpc_out={ROOT}",
        *protos,
    ]
    for stale in (ROOT / "vohub" / "v1").glob("*_pb2*.py*"):
        stale.unlink()
    shutil.rmtree(ROOT / "vohub" / "v1" / "__pycache__", ignore_errors=True)
    return protoc.main(args)


if __name__ == "__main__":
    sys.exit(main())
