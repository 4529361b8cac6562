"""Finds the running suite and the generated stubs (scripts/clients.sh provides both).

AXLE_SUITE: the JSON of `axle up`'s "axle is up" log line ({"vin": "127.0.0.1:PORT",
"plate": ..., "sandbox": ..., ...}). AXLE_PY_STUBS: where grpc_tools.protoc wrote the
modules generated from proto/.
"""

import json
import os
import sys

import pytest

sys.path.insert(0, os.environ["AXLE_PY_STUBS"])


@pytest.fixture(scope="session")
def suite() -> dict:
    return json.loads(os.environ["AXLE_SUITE"])
