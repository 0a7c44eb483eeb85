"""Smoke test of the servers from infra/up.sh: `python infra/smoke.py`.

Kafka: produce + consume on a new topic (aiokafka). PostgreSQL: create a table, insert,
upsert (asyncpg). MongoDB-wire: unique index, duplicate key, upsert, unordered bulk insert
with a duplicate, count, $group (pymongo's async client). Cleans up after itself.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient
from pymongo.errors import BulkWriteError, DuplicateKeyError

KAFKA = os.environ.get("PROMPTOPT_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
PG = os.environ.get("PROMPTOPT_POSTGRES_DSN", "postgresql://promptopt@127.0.0.1:15432/promptopt")
MONGO = os.environ.get("PROMPTOPT_MONGO_URI", "mongodb://127.0.0.1:27018/")
TAG = uuid.uuid4().hex[:8]


async def kafka() -> None:
    topic = f"smoke-{TAG}"
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
        producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"hello", key=b"k")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=KAFKA, group_id=f"smoke-{TAG}",
                                    auto_offset_reset="earliest")
        await consumer.start()
        try:
            msg = await asyncio.wait_for(consumer.getone(), 30)
            assert (msg.key, msg.value) == (b"k", b"hello"), msg
            await consumer.commit()
        finally:
            await consumer.stop()
        await admin.delete_topics([topic])
    finally:
        await admin.close()


async def postgres() -> None:
    conn = await asyncpg.connect(PG)
    table = f"smoke_{TAG}"
    try:
        await conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, v text NOT NULL)")
        await conn.execute(f"INSERT INTO {table} VALUES (1, 'a'), (2, 'b')")
        await conn.execute(f"INSERT INTO {table} VALUES (1, 'z') "
                           "ON CONFLICT (id) DO UPDATE SET v = excluded.v")
        rows = await conn.fetch(f"SELECT id, v FROM {table} ORDER BY id")
        assert [tuple(r) for r in rows] == [(1, "z"), (2, "b")], rows
    finally:
        await conn.execute(f"DROP TABLE IF EXISTS {table}")
        await conn.close()


async def mongo() -> None:
    client = AsyncMongoClient(MONGO, serverSelectionTimeoutMS=5000)
    db = client[f"smoke_{TAG}"]
    try:
        col = db.items
        await col.create_index("key", unique=True)
        await col.insert_one({"key": "a", "arm": "A", "r": 1})
        try:
            await col.insert_one({"key": "a"})
            raise AssertionError("no DuplicateKeyError")
        except DuplicateKeyError:
            pass
        res = await col.update_one({"key": "b"}, {"$set": {"arm": "B", "r": 0}}, upsert=True)
        assert res.upserted_id is not None
        res = await col.update_one({"key": "b"}, {"$inc": {"r": 1}}, upsert=True)
        assert res.matched_count == 1 and res.upserted_id is None
        try:
            await col.insert_many([{"key": "c", "arm": "A", "r": 0}, {"key": "a"},
                                   {"key": "d", "arm": "B", "r": 1}], ordered=False)
            raise AssertionError("no BulkWriteError")
        except BulkWriteError as err:
            assert err.details["nInserted"] == 2, err.details
            assert [e["code"] for e in err.details["writeErrors"]] == [11000]
        assert await col.count_documents({}) == 4
        cursor = await col.aggregate([
            {"$group": {"_id": "$arm", "n": {"$sum": 1}, "s": {"$sum": "$r"},
                        "avg": {"$avg": "$r"}}},
            {"$sort": {"_id": 1}},
        ])
        groups = await cursor.to_list()
        assert groups == [{"_id": "A", "n": 2, "s": 1, "avg": 0.5},
                          {"_id": "B", "n": 2, "s": 2, "avg": 1.0}], groups
    finally:
        await client.drop_database(db.name)
        await client.close()


async def main() -> int:
    failed = 0
    for name, check in (("kafka", kafka), ("postgres", postgres), ("mongo", mongo)):
        t0 = time.monotonic()
        try:
            await check()
            print(f"{name}: ok ({time.monotonic() - t0:.1f}s)")
        except Exception as err:  # report every failure
            failed += 1
            print(f"{name}: FAILED: {type(err).__name__}: {err}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
