"""AsyncAPI 3 document generated from the topic catalogue and the event models."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from topics.catalogue import TOPICS


def asyncapi_document(version: str = "0.1.0") -> dict[str, Any]:
    _, defs = models_json_schema(
        [(t.event, "validation") for t in TOPICS], ref_template="#/components/schemas/{model}"
    )
    channels, operations, messages = {}, {}, {}
    for t in TOPICS:
        name = t.event.__name__
        messages[name] = {
            "name": name,
            "contentType": "application/json",
            "payload": {"$ref": f"#/components/schemas/{name}"},
        }
        channels[t.name] = {
            "address": t.name,
            "description": t.description,
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "bindings": {"kafka": {
                "topic": t.name,
                "partitions": t.partitions,
                "replicas": 1,
                "topicConfiguration": {
                    "cleanup.policy": ["compact" if t.compacted else "delete"],
                    **({} if t.compacted else {"retention.ms": t.retention_ms}),
                },
            }},
            "x-key": t.key,
            "x-public": t.public,
        }
        operations[f"publish-{t.name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{t.name}"},
            "bindings": {"kafka": {"key": {"type": "string", "description": f"event.{t.key}"}}},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "promptopt events", "version": version,
                 "description": "Topics between promptopt's agents; JSON values."},
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": defs["$defs"]},
    }
