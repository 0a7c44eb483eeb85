"""The worker's own SSRF check (issue 12, item 3): an experiment published straight to
Kafka, past the API's 422, names an api_base the settings do not allow. No request is
sent: every trial comes back failed, with the reason and no attempt, and the final
analysis says so."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.integration.test_end_to_end import prompt_submitted
from tests.integration.test_trials_on_broker import run, trial_documents
from tests.integration.test_end_to_end import eventually

pytestmark = pytest.mark.integration


async def test_the_worker_refuses_an_api_base_not_allowed_before_any_call(
        start_worker, settings):
    # The session allows 127.0.0.1 (its simulators); `localhost` is not listed, and a
    # wildcard would not reach it either: it names this machine.
    start_worker()
    experiment_id = f"ssrf-{uuid.uuid4().hex[:8]}"
    body = prompt_submitted(experiment_id, n_tests=3)
    body["spec"]["models"] = [{"id": "openai/gpt-4o-mini",
                               "api_base": "http://localhost:6379/v1"}]
    final = await run(settings, experiment_id, body, timeout=120)

    assert final["trials_expected"] == final["trials_done"] == final["trials_failed"] == 6
    docs = await eventually(lambda: trial_documents(settings, experiment_id),
                            lambda docs: len(docs) >= 6)
    assert len(docs) == 6
    assert all(d["status"] == "failed" and d["attempts"] == 0 for d in docs), docs
    assert all("not in PROMPTOPT_LLM_ALLOWED_HOSTS" in d["reason"] for d in docs), docs[0]
    assert json.dumps(docs[0]).count("localhost:6379") >= 1  # the reason names the address
