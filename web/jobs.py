"""``/jobs``: what the background workers are doing, for the people waiting on an import or an export.

The page and its JSON read RQ's registries in Redis only (``campaigns.jobs``):
queued, running, scheduled (a retry waiting), deferred, failed (with the last
line of the error and the retries used) and finished (with the result: row
counts, file written).  No database query, so the page works while an import
holds the database busy.
"""

from __future__ import annotations

from typing import Any

import redis
from flask import Blueprint, abort, jsonify, render_template_string
from flask.typing import ResponseReturnValue

from campaigns import jobs
from web import resources
from web.auth import OFFICE, blueprint_roles

# Agents must not see these routes (file names, list sizes).
bp = Blueprint("jobs", __name__)
blueprint_roles(bp, *OFFICE)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Jobs</title>
<meta http-equiv="refresh" content="5">
<style>
body { font-family: system-ui, sans-serif; margin: 1.5rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #ddd; vertical-align: top; }
progress { width: 12rem; }
.failed { color: #a00; } .finished { color: #070; }
</style></head>
<body>
<h1>Jobs</h1>
{% if problem %}<p class="failed">Redis cannot be reached: {{ problem }}</p>{% endif %}
{% for state in states %}
<h2>{{ state|capitalize }} ({{ groups[state]|length }})</h2>
{% if groups[state] %}
<table>
<tr><th>job</th><th>what</th><th>enqueued</th><th>progress</th><th>retries</th><th>result or error</th></tr>
{% for job in groups[state] %}
<tr class="{{ state }}">
<td><a href="{{ url_for('jobs.api_job', job_id=job.id) }}">{{ job.id }}</a></td>
<td>{{ job.description or job.kind }}</td>
<td>{{ job.enqueued_at or "" }}</td>
<td>{% if job.progress %}
<progress value="{{ job.progress.done }}" max="{{ job.progress.total or 1 }}"></progress>
{{ job.progress.phase }}{% if job.progress.rows_read is defined %}: {{ job.progress.rows_read }} rows read,
{{ job.progress.landed }} landed, {{ job.progress.rejected }} rejected{% endif %}
{% endif %}</td>
<td>{{ job.retries }}{% if job.retries_left is not none %} ({{ job.retries_left }} left){% endif %}</td>
<td>{% if job.error %}{{ job.error }}{% elif job.result %}{{ summary(job.result) }}{% endif %}</td>
</tr>
{% endfor %}
</table>
{% endif %}
{% endfor %}
</body></html>
"""

STATES = ("queued", "running", "scheduled", "deferred", "failed", "finished")


def _summary(result: dict[str, Any]) -> str:
    keys = ("list_id", "rows_read", "imported", "rejected", "rows", "phones", "on_any_list", "numbers", "out", "path")
    return ", ".join(f"{key} {result[key]}" for key in keys if result.get(key) is not None)


@bp.get("/jobs")
def jobs_page() -> ResponseReturnValue:
    problem = None
    found: list[dict[str, Any]] = []
    try:
        found = jobs.list_jobs(resources().redis)
    except redis.RedisError as error:
        problem = str(error)
    groups: dict[str, list[dict[str, Any]]] = {state: [] for state in STATES}
    for job in found:
        groups.setdefault(job["state"], []).append(job)
    status = 503 if problem else 200
    return render_template_string(_PAGE, states=STATES, groups=groups, problem=problem, summary=_summary), status


@bp.get("/api/jobs")
def api_jobs() -> ResponseReturnValue:
    try:
        return jsonify({"jobs": jobs.list_jobs(resources().redis)})
    except redis.RedisError as error:
        return jsonify({"error": f"Redis cannot be reached: {error}"}), 503


@bp.get("/api/jobs/<job_id>")
def api_job(job_id: str) -> ResponseReturnValue:
    try:
        job = jobs.get_job(resources().redis, job_id)
    except redis.RedisError as error:
        return jsonify({"error": f"Redis cannot be reached: {error}"}), 503
    if job is None:
        abort(404)
    return jsonify(job)
