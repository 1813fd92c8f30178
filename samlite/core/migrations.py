"""Ordered schema migrations for the engine's SQLite store.

Each migration is a function returning a SQL script, registered once, in order; `PRAGMA
user_version` records how many ran. Each runs in its own transaction. Never edit a released
migration: append a new one.
"""

from __future__ import annotations

from typing import Callable

Migration = Callable[[], str]
MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_initial() -> str:
    return """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

        -- One row per deployed stack; model_json is the serialized model.Stack it was deployed from.
        CREATE TABLE stacks (
            name TEXT PRIMARY KEY,
            status TEXT NOT NULL,
            template_path TEXT NOT NULL,
            project_dir TEXT NOT NULL,
            model_json TEXT NOT NULL,
            outputs_json TEXT NOT NULL DEFAULT '[]',
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );

        CREATE TABLE resources (
            stack TEXT NOT NULL,
            logical_id TEXT NOT NULL,
            type TEXT NOT NULL,
            physical_id TEXT NOT NULL,
            properties_hash TEXT NOT NULL,
            status TEXT NOT NULL,
            emulated INTEGER NOT NULL,
            PRIMARY KEY (stack, logical_id)
        );

        -- The live configuration of each function; version rows keep code history.
        CREATE TABLE functions (
            name TEXT PRIMARY KEY,
            stack TEXT NOT NULL,
            logical_id TEXT NOT NULL,
            config_json TEXT NOT NULL,
            code_sha TEXT NOT NULL,
            version INTEGER NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE TABLE function_versions (
            name TEXT NOT NULL,
            version INTEGER NOT NULL,
            code_sha TEXT NOT NULL,
            config_json TEXT NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (name, version)
        );

        CREATE TABLE queues (
            name TEXT PRIMARY KEY,
            arn TEXT NOT NULL,
            stack TEXT,
            logical_id TEXT,
            fifo INTEGER NOT NULL,
            attributes_json TEXT NOT NULL,
            tags_json TEXT NOT NULL DEFAULT '{}',
            created_at REAL NOT NULL,
            modified_at REAL NOT NULL,
            purged_at REAL
        );
        CREATE TABLE deleted_queues (name TEXT PRIMARY KEY, deleted_at REAL NOT NULL);

        -- seq orders messages (FIFO order, SequenceNumber).
        CREATE TABLE messages (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            queue TEXT NOT NULL,
            message_id TEXT NOT NULL,
            body TEXT NOT NULL,
            message_attributes_json TEXT,
            system_attributes_json TEXT,
            md5_body TEXT NOT NULL,
            md5_attributes TEXT,
            sent_ms INTEGER NOT NULL,
            visible_ms INTEGER NOT NULL,
            receive_count INTEGER NOT NULL DEFAULT 0,
            first_receive_ms INTEGER,
            receipt TEXT,
            in_flight INTEGER NOT NULL DEFAULT 0,
            group_id TEXT,
            dedup_id TEXT,
            source_arn TEXT
        );
        CREATE INDEX messages_ready ON messages (queue, visible_ms, seq);
        CREATE INDEX messages_receipt ON messages (receipt);
        CREATE UNIQUE INDEX messages_id ON messages (queue, message_id);
        CREATE TABLE fifo_dedup (
            queue TEXT NOT NULL,
            dedup_id TEXT NOT NULL,
            message_id TEXT NOT NULL,
            sequence TEXT NOT NULL,
            expires_ms INTEGER NOT NULL,
            PRIMARY KEY (queue, dedup_id)
        );

        CREATE TABLE mappings (
            uuid TEXT PRIMARY KEY,
            stack TEXT,
            logical_id TEXT,
            function_name TEXT NOT NULL,
            event_source_arn TEXT NOT NULL,
            config_json TEXT NOT NULL,
            enabled INTEGER NOT NULL,
            state TEXT NOT NULL,
            updated_at REAL NOT NULL
        );

        -- Accepted async invocations; a row exists until the event is finally handled.
        CREATE TABLE async_events (
            request_id TEXT PRIMARY KEY,
            function_name TEXT NOT NULL,
            qualifier TEXT,
            payload BLOB NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_ms INTEGER NOT NULL,
            received_ms INTEGER NOT NULL,
            status TEXT NOT NULL,
            last_result_json TEXT
        );
        CREATE INDEX async_due ON async_events (status, next_attempt_ms);

        CREATE TABLE log_streams (
            log_group TEXT NOT NULL,
            log_stream TEXT NOT NULL,
            created_ms INTEGER NOT NULL,
            first_event_ms INTEGER,
            last_event_ms INTEGER,
            PRIMARY KEY (log_group, log_stream)
        );
        CREATE TABLE log_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            log_group TEXT NOT NULL,
            log_stream TEXT NOT NULL,
            timestamp_ms INTEGER NOT NULL,
            ingestion_ms INTEGER NOT NULL,
            message TEXT NOT NULL
        );
        CREATE INDEX log_events_group ON log_events (log_group, id);

        CREATE TABLE metrics (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            function_name TEXT NOT NULL,
            stack TEXT,
            timestamp_ms INTEGER NOT NULL,
            request_id TEXT NOT NULL,
            source TEXT NOT NULL,
            duration_ms REAL NOT NULL,
            billed_ms INTEGER NOT NULL,
            memory_size INTEGER NOT NULL,
            max_memory_mb INTEGER NOT NULL,
            init_ms REAL,
            cold INTEGER NOT NULL,
            error TEXT,
            throttled INTEGER NOT NULL DEFAULT 0,
            concurrency INTEGER NOT NULL DEFAULT 0,
            architecture TEXT NOT NULL DEFAULT 'x86_64'
        );
        CREATE INDEX metrics_fn ON metrics (function_name, timestamp_ms);

        CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            value TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            stack TEXT NOT NULL,
            api_id TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        INSERT INTO meta (key, value) VALUES ('app', 'samlite-state');
        """


@migration
def m002_sqs_indexes() -> str:
    # FIFO receives look up locked groups (in flight) and walk one group in order.
    return """
        CREATE INDEX messages_inflight ON messages (queue, in_flight, visible_ms);
        CREATE INDEX messages_group ON messages (queue, group_id, seq);
        """


@migration
def m003_drop_function_versions() -> str:
    # Function version rows were written and never read: Invoke serves $LATEST only.
    return """
        DROP TABLE function_versions;
        ALTER TABLE functions DROP COLUMN version;
        """


@migration
def m004_log_groups_retention() -> str:
    # Log groups with state of their own: a retention (RetentionInDays, PutRetentionPolicy) and the
    # stack whose Logs::LogGroup declares them (`retain`: DeletionPolicy Retain). Groups without
    # a row still exist while they hold streams, as Lambda's implicit groups do.
    return """
        CREATE TABLE log_groups (
            name TEXT PRIMARY KEY,
            created_ms INTEGER NOT NULL,
            retention_days INTEGER,
            stack TEXT,
            retain INTEGER NOT NULL DEFAULT 0
        );
        """


@migration
def m005_stream_positions() -> str:
    # Where each DynamoDB/Kinesis mapping is in each shard (and ParallelizationFactor slot): the
    # sequence number of the last record finished, so a restart resumes right after it.
    return """
        CREATE TABLE stream_positions (
            mapping TEXT NOT NULL,
            shard TEXT NOT NULL,
            slot INTEGER NOT NULL,
            position TEXT NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (mapping, shard, slot)
        );
        """


@migration
def m006_custom_resources() -> str:
    # The answers of Lambda-backed custom resources: Ref (PhysicalResourceId) and GetAtt (Data)
    # values, and the properties they answered for (an Update sends them as OldResourceProperties).
    return """
        CREATE TABLE custom_resources (
            stack TEXT NOT NULL,
            logical_id TEXT NOT NULL,
            physical_id TEXT NOT NULL,
            data_json TEXT NOT NULL,
            properties_json TEXT NOT NULL,
            PRIMARY KEY (stack, logical_id)
        );
        """
