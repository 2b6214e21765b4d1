"""`dialer import --background` and `dialer jobs enqueue-import` queue one and the same job."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner
from rq.job import Job

from campaigns.cli import main
from campaigns.settings import get_settings

pytestmark = pytest.mark.integration


def test_both_doors_queue_the_same_import_once_and_a_bad_map_names_the_option(
    tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'jobs.db'}")
    monkeypatch.setenv("REDIS_URL", redis_url)
    leads = tmp_path / "leads.csv"
    leads.write_text("first_name,phone\nAda,+12015550123\n")
    runner = CliRunner()

    def run(*args: str) -> str:
        get_settings.cache_clear()
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    run("campaign", "create", "Queued", "--caller-id", "+12015550199")
    client = redis.Redis.from_url(redis_url)
    job_id = ""
    try:
        job_id = json.loads(run("import", str(leads), "--campaign", "Queued", "--background", "--json"))["job_id"]
        again = json.loads(run("jobs", "enqueue-import", str(leads), "--campaign", "Queued", "--json"))["job_id"]
        assert again == job_id  # the same file and options: one job
        assert Job.fetch(job_id, connection=client).meta["kind"] == "import"

        get_settings.cache_clear()
        bad = runner.invoke(main, ["jobs", "enqueue-import", str(leads), "--campaign", "Queued", "--map", "nonsense"])
        assert bad.exit_code == 2
        assert "--map" in bad.output
    finally:
        get_settings.cache_clear()
        if job_id:
            Job.fetch(job_id, connection=client).delete()
        client.close()


def test_a_job_id_rq_could_never_have_issued_is_simply_not_found() -> None:
    from campaigns import jobs
    from campaigns.redis_conn import connect_redis

    client = connect_redis("memory://job-ids")

    assert jobs.get_job(client, "a;b°") is None
