"""What moto would deliver (S3 notifications, SNS fan-out, EventBridge targets), captured as notes.

moto delivers to its own SQS and Lambda, which are not samlite's. These patches replace moto's
delivery points: while a live mutating call runs (`begin()`/`end()` around it, on the moto
thread) each delivery becomes a plain-dict note that the bridge then delivers to samlite's
services; at any other time (a journal replay) nothing is delivered at all, so a restart never
fires an old event twice. moto keeps the parts it does well: S3's event names and key filters,
SNS filter policies (with their validation), rules and targets as state.

Note kinds: `lambda`/`sqs`/`sns`/`http`/`email` deliveries carry the record to send; `rule`
carries an EventBridge event and the targets of the rule that matched it; `schedules` says that
rules or schedules changed.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from typing import Any

from samlite.core import filters
from samlite.services.events import cron, records

log = logging.getLogger("samlite.engine")

_S3_ARN_KIND = {"cloud_function": "lambda", "queue": "sqs", "topic": "sns"}
_SCHEDULE_CHANGES = {
    "moto.events.models.EventsBackend": ("put_rule", "delete_rule", "enable_rule", "disable_rule"),
    "moto.scheduler.models.EventBridgeSchedulerBackend": ("create_schedule", "update_schedule", "delete_schedule",
                                                          "delete_schedule_group"),
}


class Capture:
    def __init__(self, region: str, account_id: str) -> None:
        self.region = region
        self.account_id = account_id
        self.notes: list[dict[str, Any]] | None = None
        self.installed = False

    def begin(self) -> None:
        self.notes = []

    def end(self) -> list[dict[str, Any]]:
        notes, self.notes = self.notes or [], None
        return notes

    def note(self, **fields: Any) -> None:
        if self.notes is not None:
            self.notes.append(fields)

    # --- patches (moto thread, after moto is imported) ----------------------------------------
    def install(self) -> None:
        if self.installed:
            return
        self.installed = True
        import moto.events.models as events_models
        import moto.s3.models as s3_models
        import moto.s3.notifications as s3_notifications
        import moto.sns.models as sns_models

        capture = self
        s3_notifications.send_event = self._s3_event  # s3.models calls it through the module

        original_marker = s3_models.S3Backend._set_delete_marker

        def set_delete_marker(backend: Any, bucket_name: str, key_name: str) -> Any:
            marker = original_marker(backend, bucket_name, key_name)
            capture._s3_event(backend.account_id, "s3:ObjectRemoved:DeleteMarkerCreated",
                              backend.get_bucket(bucket_name), marker)
            return marker

        _replace(s3_models.S3Backend, "_set_delete_marker", set_delete_marker)

        def publish(sub: Any, message: str, message_id: str, subject: str | None = None,
                    message_attributes: dict[str, Any] | None = None, group_id: str | None = None,
                    deduplication_id: str | None = None, message_structure: str | None = None) -> None:
            capture._sns(sub, message, message_id, subject, message_attributes, group_id, deduplication_id,
                         message_structure)

        _replace(sns_models.Subscription, "publish", publish)

        def send_to_targets(rule: Any, event: dict[str, Any], transform_input: bool = True) -> None:
            capture._rule(rule, event)

        _replace(events_models.Rule, "send_to_targets", send_to_targets)

        # Event patterns: moto checks only the outline; AWS's full rules come from core.filters.
        original_parse = events_models.EventPatternParser.parse

        def parse(parser: Any) -> dict[str, Any]:
            pattern = original_parse(parser)
            try:
                filters.check_pattern(pattern)
            except filters.PatternError as exc:
                raise events_models.InvalidEventPatternException(reason=str(exc)) from None
            return pattern

        _replace(events_models.EventPatternParser, "parse", parse)
        self._check_schedules(events_models)
        for path, names in _SCHEDULE_CHANGES.items():
            module_name, cls_name = path.rsplit(".", 1)
            import importlib

            cls = getattr(importlib.import_module(module_name), cls_name)
            for name in names:
                setattr(cls, name, self._noting(getattr(cls, name)))

    def _noting(self, method: Any) -> Any:
        capture = self

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            capture.note(kind="schedules")
            return result

        return wrapper

    def _check_schedules(self, events_models: Any) -> None:
        """ScheduleExpression checked as AWS does (cron's six fields, `?`, ranges), not by moto's regex."""
        import moto.scheduler.models as scheduler_models
        from moto.core.exceptions import JsonRESTError

        original_put_rule = events_models.EventsBackend.put_rule

        def put_rule(backend: Any, name: str, **kwargs: Any) -> Any:
            expression = kwargs.get("scheduled_expression")
            if expression:
                try:
                    cron.parse(expression)
                except cron.ScheduleError:
                    raise events_models.ValidationException("Parameter ScheduleExpression is not valid.") from None
            return original_put_rule(backend, name, **kwargs)

        events_models.EventsBackend.put_rule = put_rule
        for method_name in ("create_schedule", "update_schedule"):
            original = getattr(scheduler_models.EventBridgeSchedulerBackend, method_name)

            def checked(backend: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
                expression = kwargs.get("schedule_expression")
                try:
                    cron.parse(expression or "", kwargs.get("schedule_expression_timezone"), scheduler=True)
                except cron.ScheduleError as exc:
                    raise JsonRESTError("ValidationException", f"Invalid Schedule Expression {expression}. {exc}"
                                        if "timezone" not in str(exc) else str(exc)) from None
                return _original(backend, *args, **kwargs)

            setattr(scheduler_models.EventBridgeSchedulerBackend, method_name, checked)

    # --- S3 ------------------------------------------------------------------------------------
    def _s3_event(self, account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
        if self.notes is None or bucket is None:
            return
        name = str(getattr(event_name, "value", event_name))  # "s3:ObjectCreated:Put"
        config = bucket.notification_configuration
        short = name[3:]
        deleting = short.startswith("ObjectRemoved")
        marker = short == "ObjectRemoved:DeleteMarkerCreated"
        version = getattr(key, "version_id", None) if bucket.is_versioned or marker else None
        facts = {"bucket": bucket.name, "key": key.name, "event_name": short,
                 "size": None if deleting else key.size, "etag": None if deleting else key.etag,
                 "version_id": None if version in (None, "null") else str(version), "seq": records.sequencer()}
        if config is not None:
            for attr, kind in _S3_ARN_KIND.items():
                for notification in getattr(config, attr):
                    if notification.matches(name, key.name):
                        record = records.s3_record(region=self.region, configuration_id=notification.id,
                                                   owner=self.account_id, **facts)
                        self._s3_delivery(kind, notification.arn, {"Records": [record]})
            if config.event_bridge is not None and short.startswith(("ObjectCreated", "ObjectRemoved")):
                import moto.events.models as events_models

                event = records.s3_eventbridge_event(region=self.region, account=self.account_id, **facts)
                backend = events_models.events_backends[self.account_id][self.region]
                bus = backend.event_buses.get("default")
                if bus is not None:
                    for rule in list(bus.rules.values()):
                        self._rule(rule, event)

    def _s3_delivery(self, kind: str, arn: str, payload: dict[str, Any]) -> None:
        body = json.dumps(payload)
        if kind == "sns":
            self.note(kind="publish", topic_arn=arn, message=body, subject="Amazon S3 Notification")
        else:
            self.note(kind=kind, arn=arn, body=body, source=f"s3:{arn}")

    # --- SNS -----------------------------------------------------------------------------------
    def _sns(self, sub: Any, message: str, message_id: str, subject: str | None,
             attributes: dict[str, Any] | None, group_id: str | None, dedup_id: str | None,
             structure: str | None) -> None:
        if self.notes is None:
            return
        if sub._filter_policy_matcher is not None and not sub._filter_policy_matcher.matches(attributes, message):
            return
        if structure == "json":
            message = sub._parse_message_structure(message, sub.protocol)
        topic = sub.topic
        from moto.core.utils import iso_8601_datetime_with_milliseconds

        timestamp = iso_8601_datetime_with_milliseconds()
        common = {"region": self.region, "topic_arn": topic.arn, "subscription_arn": sub.arn,
                  "message_id": message_id, "message": message, "subject": subject, "attributes": attributes,
                  "timestamp": timestamp}
        raw = str(sub.attributes.get("RawMessageDelivery", "false")).lower() == "true"
        protocol = sub.protocol
        if protocol == "lambda":
            self.note(kind="lambda", arn=sub.endpoint, body=json.dumps(records.sns_lambda_event(**common)),
                      source=f"sns:{sub.arn}")
            return
        sequence = None
        if topic.fifo_topic:
            sequence = f"{int(message_id.replace('-', '')[:15], 16):020d}"
            if dedup_id is None:
                dedup_id = hashlib.sha256(message.encode()).hexdigest()
        body = message if raw else json.dumps(records.sns_envelope(**common, sequence_number=sequence))
        extra: dict[str, Any] = {}
        if protocol == "sqs":
            if raw:
                extra["attributes"] = records.sqs_attributes(attributes)
            self.note(kind="sqs", arn=sub.endpoint, body=body, group_id=group_id, dedup_id=dedup_id,
                      source=f"sns:{sub.arn}", **extra)
        elif protocol in ("http", "https"):
            self.note(kind="http", url=sub.endpoint, body=body, raw=raw, subscription_arn=sub.arn,
                      topic_arn=topic.arn, message_id=message_id)
        elif protocol in ("email", "email-json", "sms", "application", "firehose"):
            self.note(kind="recorded", protocol=protocol, endpoint=sub.endpoint, body=body, topic_arn=topic.arn)

    # --- EventBridge ---------------------------------------------------------------------------
    def _rule(self, rule: Any, event: dict[str, Any]) -> None:
        if self.notes is None or rule.state != "ENABLED" or rule.scheduled_expression:
            return
        pattern = rule.event_pattern.get_pattern()
        event = _normalised(event)
        if not pattern or not filters.matches(pattern, event):
            return
        self.note(kind="rule", rule_arn=rule.arn, rule=rule.name, targets=copy.deepcopy(rule.targets), event=event)

    def rule_notes(self, name: str, bus: str, when: float) -> list[dict[str, Any]]:
        """A schedule rule firing now (scheduler loop or `samlite events fire`)."""
        import moto.events.models as events_models

        backend = events_models.events_backends[self.account_id][self.region]
        rule = backend.event_buses[bus].rules[name]
        event = records.scheduled_event(account=self.account_id, region=self.region, rule_arn=rule.arn, when=when)
        if not rule.scheduled_expression:
            event = records.event(account=self.account_id, region=self.region, source="samlite.events",
                                  detail_type="Fired by samlite", detail={}, resources=[rule.arn], when=when)
        return [{"kind": "rule", "rule_arn": rule.arn, "rule": rule.name, "targets": copy.deepcopy(rule.targets),
                 "event": event}]

    def schedule_notes(self, group: str, name: str, when: float) -> list[dict[str, Any]]:
        """An EventBridge Scheduler schedule firing: its target gets its Input as is."""
        import moto.scheduler.models as scheduler_models

        backend = scheduler_models.scheduler_backends[self.account_id][self.region]
        schedule = backend.schedule_groups[group].schedules[name]
        return [{"kind": "schedule", "schedule_arn": schedule.arn, "target": copy.deepcopy(schedule.target),
                 "when": when}]

    def scheduled(self) -> list[dict[str, Any]]:
        """Every schedule rule and schedule, for the scheduler loop to time."""
        import moto.events.models as events_models
        import moto.scheduler.models as scheduler_models

        out: list[dict[str, Any]] = []
        events_backend = events_models.events_backends[self.account_id][self.region]
        for bus_name, bus in events_backend.event_buses.items():
            for rule in bus.rules.values():
                if rule.scheduled_expression:
                    out.append({"key": f"rule/{bus_name}/{rule.name}", "kind": "rule", "name": rule.name,
                                "bus": bus_name, "arn": rule.arn, "expression": rule.scheduled_expression,
                                "timezone": None, "enabled": rule.state == "ENABLED"})
        scheduler_backend = scheduler_models.scheduler_backends[self.account_id][self.region]
        for group_name, group in scheduler_backend.schedule_groups.items():
            for schedule in group.schedules.values():
                out.append({"key": f"schedule/{group_name}/{schedule.name}", "kind": "schedule",
                            "name": schedule.name, "group": group_name, "arn": schedule.arn,
                            "expression": schedule.schedule_expression,
                            "timezone": schedule.schedule_expression_timezone,
                            "enabled": schedule.state == "ENABLED",
                            "start": schedule.start_date, "end": schedule.end_date})
        return out


def _normalised(event: dict[str, Any]) -> dict[str, Any]:
    """moto's event as AWS sends it: `time` as ISO text, no ingestion time."""
    out = {k: v for k, v in event.items() if k != "ingestion-time"}
    out["time"] = records.event_time(event.get("time"))
    return out


def _replace(cls: type, name: str, fn: Any) -> None:
    """Put `fn` in place of moto's method `name` (moto's types do not allow it statically)."""
    setattr(cls, name, fn)
