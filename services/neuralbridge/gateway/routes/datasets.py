"""Datasets: uploads, transforms, the dataset list (see :mod:`neuralbridge.gateway.datasets`).

``POST /api/datasets/{dataset}/documents`` takes ``multipart/form-data``: one
or more files (any field name) and an optional ``metadata`` field holding a
JSON object stored with each file's chunks. It answers 202 with
``[{upload_id, filename}]``, one per file in order; poll
``GET /api/uploads/{upload_id}`` until ``status`` is ``done`` or ``failed``.
A file of an unsupported type is 400 naming it (nothing is uploaded); a body
over ``GATEWAY_MAX_BODY_BYTES`` is 413. ``POST /api/transforms`` answers 202
``{transform_id}``; poll ``GET /api/transforms/{transform_id}``.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath

from neuralbridge.core.bus import Bus
from neuralbridge.gateway.access import require_admin
from neuralbridge.gateway.datasets import (
    TransformAccepted,
    TransformInput,
    Upload,
    check_dataset,
    ingest_state,
    list_datasets,
    parse_metadata,
    start_transform,
    transform_state,
    upload,
)
from neuralbridge.gateway.errors import InvalidRequestError
from neuralbridge.gateway.jsonbody import declare_body, read_json
from neuralbridge.messages.dataset_queries import DatasetSummary
from neuralbridge.messages.datasets import IngestState, TransformState

__all__ = ["datasets_router"]


@post("/datasets/{dataset:str}/documents", status_code=202, summary="Upload files to ingest")
async def upload_documents(
    dataset: FromPath[str], request: Request[Any, Any, Any], bus: NamedDependency[Bus]
) -> list[Upload]:
    """Store each file and queue its ingestion (see the module docstring)."""
    name = check_dataset(dataset)
    form = await request.form()
    files: list[tuple[str, bytes]] = []
    metadata_raw: str | None = None
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            files.append((value.filename, await value.read()))
        elif key == "metadata":
            metadata_raw = str(value)
    if not files:
        raise InvalidRequestError("no file in the multipart body", param="files")
    return await upload(bus, name, files, parse_metadata(metadata_raw))


@get("/uploads/{upload_id:str}", summary="An upload's ingestion state")
async def get_upload(upload_id: FromPath[str], bus: NamedDependency[Bus]) -> IngestState:
    """``pending``, ``done`` (with ``chunks``) or ``failed`` (with ``error``)."""
    return await ingest_state(bus, upload_id)


@post("/transforms", status_code=202, summary="Embed a dataset into a collection")
async def create_transform(
    request: Request[Any, Any, Any], bus: NamedDependency[Bus]
) -> TransformAccepted:
    """Queue a TransformJob (the local all-MiniLM-L6-v2 unless ``embedder`` is given)."""
    return await start_transform(bus, await read_json(request, TransformInput))


@get("/transforms/{transform_id:str}", summary="A transform's live state")
async def get_transform(transform_id: FromPath[str], bus: NamedDependency[Bus]) -> TransformState:
    """Progress counts, then ``completed`` or ``failed``."""
    return await transform_state(bus, transform_id)


@get("/datasets", summary="Datasets with item and chunk counts")
async def get_datasets(bus: NamedDependency[Bus]) -> list[DatasetSummary]:
    """As the dataset-transform worker reports them."""
    return await list_datasets(bus)


declare_body("post", "/api/transforms", TransformInput)

datasets_router = Router(
    path="/api",
    route_handlers=[upload_documents, get_upload, create_transform, get_transform, get_datasets],
    before_request=require_admin, tags=["datasets"],
)  # fmt: skip
