"""Preparing a namespace for the service: its custom search attributes (`starter.py admin
prepare-namespace`, `dev.py run`, the tests). Idempotent: what exists already is left as it is."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from google.protobuf.duration_pb2 import Duration
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from contracts.search_attributes import ALL


def dev_server_flags() -> list[str]:
    """`--search-attribute` flags of `temporal server start-dev` (used when the namespace is created)."""
    return [
        arg
        for key in ALL
        for arg in ("--search-attribute", f"{key.name}={key.indexed_value_type.name.title()}")
    ]


async def register_search_attributes(client: Client, namespace: str) -> list[str]:
    """Add the attributes that the namespace does not have yet; returns the names added."""
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        existing = set(listed.custom_attributes)
    except RPCError as err:  # the time-skipping test server cannot list them, only add
        if err.status is not RPCStatusCode.UNIMPLEMENTED:
            raise
        existing = set()
    missing = {
        key.name: IndexedValueType.ValueType(key.indexed_value_type.value)
        for key in ALL
        if key.name not in existing
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    return sorted(missing)


async def ensure_namespace(client: Client, namespace: str, retention: timedelta = timedelta(days=3)) -> bool:
    """Register `namespace` unless it exists (the test namespace of test mode, docs/test-mode.md);
    True when registered now. A new namespace may take a few seconds before it takes calls."""
    try:
        await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
        return False
    except RPCError as err:
        if err.status is not RPCStatusCode.NOT_FOUND:
            raise
    try:
        await client.workflow_service.register_namespace(
            RegisterNamespaceRequest(
                namespace=namespace,
                description="patient messaging: test keys' traffic (simulated sends)",
                workflow_execution_retention_period=Duration(seconds=int(retention.total_seconds())),
            )
        )
    except RPCError as err:
        if err.status is not RPCStatusCode.ALREADY_EXISTS:
            raise
        return False
    return True


async def prepare_namespace(client: Client, namespace: str, timeout: float = 30) -> list[str]:
    """Add the missing search attributes and wait until the namespace lists them all (a new attribute
    may be refused for a few seconds); returns the names added."""
    deadline = time.monotonic() + timeout
    while True:  # a namespace registered a moment ago is unknown to the server's cache for a few seconds
        try:
            added = await register_search_attributes(client, namespace)
            break
        except RPCError as err:
            if err.status is not RPCStatusCode.NOT_FOUND or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
    while added and time.monotonic() < deadline:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        if all(key.name in listed.custom_attributes for key in ALL):
            break
        await asyncio.sleep(0.5)
    return added
