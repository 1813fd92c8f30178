"""Deploy-time fixes of ids moto draws at random, so that they equal the deterministic ids the
template already resolved Ref/GetAtt to (samlite.template.types.cloud). Each runs on the moto thread
and is journalled, so a replay applies it again at the same point."""

from __future__ import annotations

from typing import Any, Callable


def _backend(module: str, name: str, account: str, region: str) -> Any:
    import importlib

    return getattr(importlib.import_module(module), name)[account][region]


def secret_arn(args: dict[str, Any]) -> None:
    backend = _backend("moto.secretsmanager.models", "secretsmanager_backends", args["account"], args["region"])
    backend.secrets[args["name"]].arn = args["arn"]


def user_pool_id(args: dict[str, Any]) -> None:
    backend = _backend("moto.cognitoidp.models", "cognitoidp_backends", args["account"], args["region"])
    pool = backend.user_pools.pop(args["old"])
    pool.id = args["new"]
    pool.arn = pool.arn.rsplit("/", 1)[0] + "/" + args["new"]
    backend.user_pools[args["new"]] = pool


def user_pool_client_id(args: dict[str, Any]) -> None:
    backend = _backend("moto.cognitoidp.models", "cognitoidp_backends", args["account"], args["region"])
    pool = backend.user_pools[args["pool"]]
    client = pool.clients.pop(args["old"])
    client.id = args["new"]
    pool.clients[args["new"]] = client


def subscription_arn(args: dict[str, Any]) -> None:
    backend = _backend("moto.sns.models", "sns_backends", args["account"], args["region"])
    sub = backend.subscriptions.pop(args["old"])
    sub.arn = args["new"]
    backend.subscriptions[args["new"]] = sub


# name -> fix: the journal records the name, so a replay finds the same fix.
FIXUPS: dict[str, Callable[[dict[str, Any]], None]] = {
    "secret_arn": secret_arn, "user_pool_id": user_pool_id, "user_pool_client_id": user_pool_client_id,
    "subscription_arn": subscription_arn,
}
