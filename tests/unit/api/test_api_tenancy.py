"""Tenant isolation at the API (issue 12, item 1): another team's experiment is the same
404 as none at all for results, stop and stream; an admin sees every team's."""

from __future__ import annotations

import pytest


@pytest.fixture
def alices_experiment(api) -> str:
    api.store.own("exp-alice", api.alice)
    api.store.results["exp-alice"] = {
        "experiment": {"id": "exp-alice", "prompt": "Alice's secret prompt"}, "rounds": [1],
        "test": {"round": 1}, "variations": [], "analysis": None}
    return "exp-alice"


def refusal(response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["message"]


def test_another_team_cannot_read_results(api, alices_experiment):
    theirs = api.client.get(f"/api/v1/test/{alices_experiment}/results",
                            headers=api.auth(api.bob_key))
    assert theirs.status_code == 404
    assert "secret" not in theirs.text
    # Indistinguishable from an id that does not exist: nothing tells Bob it is taken.
    none = api.client.get("/api/v1/test/exp-nobody/results", headers=api.auth(api.bob_key))
    assert refusal(theirs)[1].replace(alices_experiment, "X") == \
        refusal(none)[1].replace("exp-nobody", "X")
    assert api.client.get(f"/api/v1/test/{alices_experiment}/results",
                          headers=api.auth()).status_code == 200


def test_another_team_cannot_stop_a_running_test(api, alices_experiment):
    response = api.client.post(f"/api/v1/test/{alices_experiment}/stop",
                               headers=api.auth(api.bob_key))
    assert response.status_code == 404
    assert api.bus.published == []  # no stop command went out


def test_another_team_cannot_stream_it(api, alices_experiment):
    response = api.client.get(f"/api/v1/stream/{alices_experiment}",
                              headers=api.auth(api.bob_key))
    assert response.status_code == 404 and api.bus.feeds == []


def test_an_admin_reads_and_stops_any_teams_work_as_the_team(api, alices_experiment):
    admin = api.auth(api.admin_key)
    assert api.client.get(f"/api/v1/test/{alices_experiment}/results",
                          headers=admin).status_code == 200
    assert api.client.post(f"/api/v1/test/{alices_experiment}/stop",
                           headers=admin).status_code == 202
    [(_, stop)] = api.bus.published
    # The command carries the experiment's owner, not the admin's team.
    assert (stop.team_id, stop.user_id) == (api.alice.team_id, api.alice.id)


def test_a_submission_is_its_submitters_team_at_once(api, spec_body):
    accepted = api.client.post("/api/v1/optimize", json=spec_body(), headers=api.auth())
    eid = accepted.json()["data"]["experiment_id"]
    # No wait for the sinks: the owner was recorded before the event went out.
    assert api.client.post(f"/api/v1/test/{eid}/stop", headers=api.auth()).status_code == 202
    assert api.client.post(f"/api/v1/test/{eid}/stop",
                           headers=api.auth(api.bob_key)).status_code == 404


def test_a_submission_kafka_refused_is_not_left_recorded(api, spec_body):
    api.bus.down = True
    assert api.client.post("/api/v1/optimize", json=spec_body(),
                           headers=api.auth()).status_code == 503
    assert api.store.experiments == {}
