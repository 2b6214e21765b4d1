"""Contact lists: a campaign's lists with their counts, CSV uploads imported in the background, reject reports.

An upload is saved where the workers can read it (``UPLOAD_DIR``, by default a
``dialer-uploads`` folder in the system's temporary directory: set it to a
disk the workers share) and imported by an RQ job (``campaigns.jobs``), so a
million-row file never holds a web request.  The saved file is named by the
digest of its bytes and the import options: the same upload twice is the same
import, resumed or found finished, never a second list.  Its reject report is
written beside it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import tempfile
from itertools import islice
from pathlib import Path
from typing import Any

import phonenumbers
import redis
from flask import Blueprint, current_app, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from campaigns import jobs
from campaigns.importer import ListImportError, parse_mapping
from campaigns.models import CallAttempt, Contact, ContactList, ContactPhone, ContactStatus
from web import get_session, resources
from web.api import errors
from web.api.errors import ApiError
from web.api.inputs import check_text_storable, paging
from web.api.lookups import campaign_by_ref, row_by_id
from web.api.shapes import list_to_dict, page
from web.auth import OFFICE, STAFF, blueprint_roles, roles

bp = Blueprint("lists_api", __name__)
blueprint_roles(bp, *OFFICE)
errors.install(bp)

ENCODINGS = ("utf-8", "cp1252", "latin-1")
REJECTS_SUFFIX = ".rejects.csv"
MAX_MAPPINGS = 100


def upload_dir() -> Path:
    configured = current_app.config.get("UPLOAD_DIR")
    folder = Path(configured) if configured else Path(tempfile.gettempdir()) / "dialer-uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder.resolve()


@bp.get("/api/campaigns/<campaign_ref>/lists")
def campaign_lists(campaign_ref: str) -> ResponseReturnValue:
    """The campaign's lists, oldest first, with how many rows each took and refused."""
    session = get_session()
    campaign = campaign_by_ref(session, campaign_ref)
    found = session.scalars(select(ContactList).where(ContactList.campaign_id == campaign.id).order_by(ContactList.id))
    return jsonify({"lists": [list_to_dict(item) for item in found]})


@bp.get("/api/lists/<int:list_id>")
def show_list(list_id: int) -> ResponseReturnValue:
    """One list with its contacts by status, its phones and the calls made to it."""
    session = get_session()
    contact_list = row_by_id(session, ContactList, list_id, "list_id", "list")
    by_status = dict.fromkeys((status.value for status in ContactStatus), 0)
    for status, count in session.execute(
        select(Contact.status, func.count()).where(Contact.list_id == list_id).group_by(Contact.status)
    ):
        by_status[str(status)] = int(count)
    phones = session.scalar(
        select(func.count()).select_from(ContactPhone).join(Contact).where(Contact.list_id == list_id)
    )
    attempts = session.scalar(
        select(func.count()).select_from(CallAttempt).join(Contact).where(Contact.list_id == list_id)
    )
    return jsonify({
        **list_to_dict(contact_list),
        "contacts": sum(by_status.values()),
        "contacts_by_status": by_status,
        "phones": int(phones or 0),
        "attempts": int(attempts or 0),
        "rejects_available": _rejects_path(contact_list) is not None,
    })


@bp.post("/api/campaigns/<campaign_ref>/lists")
@roles(*STAFF)
def upload_list(campaign_ref: str) -> ResponseReturnValue:
    """Upload a CSV (multipart ``file``) and queue its import; the answer names the job to follow."""
    session = get_session()
    campaign = campaign_by_ref(session, campaign_ref)
    if not request.mimetype.startswith("multipart/form-data"):
        raise ApiError("body", "send the list as multipart/form-data with the CSV in the field 'file'", 415)
    options = _upload_options()
    upload = request.files.get("file")
    if upload is None:
        raise ApiError("file", "is required: the CSV file of contacts")
    saved = _save(upload.stream, campaign.id, options)
    name = options["list_name"] or _clean_filename(upload.filename) or None
    try:
        job_id = jobs.enqueue_import(
            resources().redis, campaign.id, saved, mapping=options["mapping"] or None, region=options["region"],
            list_name=name, rejects=_rejects_for(saved), encoding=options["encoding"],
        )  # fmt: skip
    except ListImportError as error:
        raise ApiError("file", str(error)) from None
    except redis.RedisError as error:
        return errors.refusal(503, f"the job queue (Redis) cannot be reached: {error}")
    job_url = url_for("jobs.api_job", job_id=job_id) if "jobs.api_job" in current_app.view_functions else None
    return jsonify({"job_id": job_id, "job_url": job_url, "campaign_id": campaign.id, "list_name": name}), 202


def _upload_options() -> dict[str, Any]:
    form = request.form
    for key in form:
        if key == "file":
            raise ApiError("file", "must be sent as a file part (filename and bytes), not as a text field")
        if key not in ("name", "region", "encoding", "mapping"):
            raise ApiError(key, "is not a field of this upload (known: file, name, region, encoding, mapping)")
        for value in form.getlist(key):
            check_text_storable(key, value)
    list_name = (form.get("name") or "").strip()
    if len(list_name) > 200:
        raise ApiError("name", "must be at most 200 characters")
    region = (form.get("region") or "").strip().upper() or None
    if region is not None and region not in phonenumbers.SUPPORTED_REGIONS:
        raise ApiError("region", f"{region[:20]!r} is not a two-letter region code such as US or CA")
    encoding = (form.get("encoding") or "").strip().lower() or None
    if encoding is not None and encoding not in ENCODINGS:
        raise ApiError("encoding", f"must be one of {', '.join(ENCODINGS)}")
    pairs = [pair for pair in form.getlist("mapping") if pair.strip()]
    if len(pairs) > MAX_MAPPINGS:
        raise ApiError("mapping", f"must hold at most {MAX_MAPPINGS} COLUMN=FIELD pairs")
    try:
        mapping = parse_mapping(pairs)
    except ListImportError as error:
        raise ApiError("mapping", str(error)) from None
    return {"list_name": list_name or None, "region": region, "encoding": encoding, "mapping": mapping}


def _save(stream: Any, campaign_id: int, options: dict[str, Any]) -> Path:
    """Write the upload under a name made of its digest and options; an identical upload finds it there."""
    folder = upload_dir()
    digest = hashlib.sha256(json.dumps([campaign_id, options], sort_keys=True).encode() + b"\0")
    handle, tmp = tempfile.mkstemp(prefix=".upload-", dir=folder)
    size = 0
    try:
        with os.fdopen(handle, "wb") as out:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
                size += len(block)
        if size == 0:
            raise ApiError("file", "is empty")
        target = folder / f"campaign-{campaign_id}-{digest.hexdigest()[:32]}.csv"
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _rejects_for(saved: Path) -> Path:
    return saved.with_name(saved.stem + REJECTS_SUFFIX)


def _clean_filename(name: str | None) -> str:
    if not name:
        return ""
    base = Path(name.replace("\\", "/")).name.strip()
    try:
        check_text_storable("file", base)
    except ApiError:
        return ""
    return base[:200]


def _rejects_path(contact_list: ContactList) -> Path | None:
    """The reject report of a list uploaded here, when its file is still there."""
    if not contact_list.source:
        return None
    try:
        source = Path(contact_list.source).resolve()
        folder = upload_dir()
    except (OSError, ValueError):
        return None
    if source.parent != folder or source.suffix != ".csv":
        return None
    rejects = _rejects_for(source)
    return rejects if rejects.is_file() else None


@bp.get("/api/lists/<int:list_id>/rejects")
def list_rejects(list_id: int) -> ResponseReturnValue:
    """The rows the import refused, with the reason and the row's cells under the file's own headings."""
    session = get_session()
    contact_list = row_by_id(session, ContactList, list_id, "list_id", "list")
    limit, offset = paging()
    path = _rejects_path(contact_list)
    if path is None:
        return jsonify({"list_id": list_id, "available": False, "rows_rejected": contact_list.rows_rejected,
                        **page([], 0, limit, offset)})
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, ["row", "reason", "detail"])
        columns = header[3:]
        items = []
        total = 0
        for cells in reader:
            if offset <= total < offset + limit:
                items.append(_reject_row(cells, columns))
            total += 1
    return jsonify({"list_id": list_id, "available": True, "rows_rejected": contact_list.rows_rejected,
                    **page(items, total, limit, offset)})


def _reject_row(cells: list[str], columns: list[str]) -> dict[str, Any]:
    padded = [*cells, "", "", ""]
    try:
        row: int | None = int(padded[0])
    except ValueError:
        row = None
    values = dict(islice(zip(columns, padded[3:], strict=False), len(columns)))
    return {"row": row, "reason": padded[1], "detail": padded[2], "cells": values}
