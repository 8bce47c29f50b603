"""What the process of a Function Compute (``python3``) function gets besides its own variables.

- Its region and account (``FC_REGION``, ``FC_ACCOUNT_ID``), as FC sets them.
- ``HTTP_PROXY`` and ``HTTPS_PROXY`` pointing at fnflow (loopback excepted): Alibaba's SDKs build
  their endpoints from the region (``cn-hangzhou.fnf.aliyuncs.com``…) and honour these variables,
  so their plain-HTTP requests reach fnflow, which answers for FnF's and FC's hosts and refuses
  the others; an HTTPS request asks fnflow for a tunnel, which it refuses. So code written for the
  cloud reaches this server, and nothing reaches the cloud by accident. A function's own
  ``EnvironmentVariables`` (``NO_PROXY`` for a host it must reach) win.
- With a role, the temporary credentials of each instance (``ALIBABA_CLOUD_ACCESS_KEY_ID``,
  ``…_SECRET``, ``…_SECURITY_TOKEN``, as FC sets them, and ``context.credentials``): minted when
  the instance starts, from the function's own key with its role's scope, good for longer than
  the instance may live (``pool.MAX_AGE`` and a call), and void when the function is deleted.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from fnflow.functions.pool import MAX_AGE
from fnflow.functions.spec import FunctionSpec
from fnflow.services.temporary import TemporaryKeys

CREDENTIALS = "FNFLOW_INSTANCE_CREDENTIALS"  # what the worker reads (and removes) at start
MARGIN = 600.0  # seconds the credentials outlive the longest an instance may run a call


def process_environment(endpoint: str, region: str, account_id: str) -> dict[str, str]:
    """The variables every FC function's process starts with (its own override them)."""
    loopback = "localhost,127.0.0.1,::1"
    return {
        "FC_REGION": region,
        "FC_ACCOUNT_ID": account_id,
        **dict.fromkeys(("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"), endpoint),
        **dict.fromkeys(("NO_PROXY", "no_proxy"), loopback),
    }


class InstanceCredentials:
    """Mints the credentials of one instance of a function that has a role (for ``FunctionPool``)."""

    def __init__(self, keys: TemporaryKeys, max_age: float = MAX_AGE) -> None:
        self._keys = keys
        self._max_age = max_age

    def __call__(self, spec: FunctionSpec) -> dict[str, str]:
        if not spec.role_key:
            return {}
        ttl = self._max_age + spec.timeout + (spec.initialization_timeout or spec.timeout) + MARGIN
        made = self._keys.mint(spec.role_key, spec.role, ttl, datetime.now(UTC))
        credentials = {
            "access_key_id": made.access_key_id,
            "access_key_secret": made.access_key_secret,
            "security_token": made.security_token,
        }
        return {
            CREDENTIALS: json.dumps(credentials),
            "ALIBABA_CLOUD_ACCESS_KEY_ID": made.access_key_id,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": made.access_key_secret,
            "ALIBABA_CLOUD_SECURITY_TOKEN": made.security_token,
        }
