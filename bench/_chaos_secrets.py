"""The secrets scan of a chaos run: every token value looked for in the logs, in Redis and in its AOF.

(A leading underscore keeps `python -m bench` from running it; `bench.chaos` and tests/chaos use it.)

Secrets: the Rackbeat token (and the "user" token the scenario writes with), the e-conomic app secret and
agreement grant tokens, and every webhook token Rackbeat handed out at registration. Places:

- every `*.log` file of the run (receiver and worker output, restarts included);
- every key of the run's Redis (SCAN, then a dump by type: string, hash, list, set, sorted set, stream),
  its name and its values, and inside each value a Celery message's base64 body decoded, so a token in
  a task's arguments would not hide behind the encoding;
- the bytes of every AOF file (Redis 7 keeps a directory: manifest, base, increments), each command
  parsed from RESP and its arguments searched the same way (an RDB preamble is searched as raw bytes).

One place holds a secret by design: the receiver's `webhook-tokens` hash keeps the token Rackbeat returned
for each event (Rackbeat shows it only once; docs/ARCHITECTURE.md), so that hash and the AOF commands that
write it are counted as `expected`, not as hits. Everything else is a hit (goal 0).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import redis


@dataclass
class SecretsScan:
    hits: list[str] = field(default_factory=list)
    expected: int = 0  # occurrences in the webhook-tokens hash (and the AOF commands writing it)
    log_files: int = 0
    log_bytes: int = 0
    redis_keys: int = 0
    aof_files: int = 0
    aof_bytes: int = 0

    def summary(self) -> str:
        return (
            f"{len(self.hits)} hits ({self.log_files} log files, {self.log_bytes:,} bytes; "
            f"{self.redis_keys} Redis keys; {self.aof_files} AOF files, {self.aof_bytes:,} bytes; "
            f"{self.expected} in the webhook-tokens hash by design)"
        )


def _variants(value: bytes) -> Iterator[bytes]:
    """The value itself and, when it is a Celery/kombu message, its base64 body decoded."""
    yield value
    if b"body_encoding" not in value:
        return
    try:
        envelope = json.loads(value)
    except (ValueError, UnicodeDecodeError):
        return
    if isinstance(envelope, dict) and isinstance(envelope.get("body"), str):
        try:
            yield base64.b64decode(envelope["body"])
        except (binascii.Error, ValueError):
            return


def _found(secrets: Mapping[str, bytes], values: Iterable[bytes]) -> list[str]:
    names = []
    for value in values:
        for variant in _variants(value):
            names.extend(name for name, secret in secrets.items() if secret in variant)
    return names


def _dump(client: redis.Redis, name: bytes) -> list[bytes]:
    """Every value stored under one key, as bytes, whatever its type."""
    kind = client.type(name)
    kind = kind.decode() if isinstance(kind, bytes) else kind
    if kind == "string":
        return [client.get(name) or b""]
    if kind == "hash":
        return [part for pair in client.hgetall(name).items() for part in pair]
    if kind == "list":
        return list(client.lrange(name, 0, -1))
    if kind == "set":
        return list(client.smembers(name))
    if kind == "zset":
        return [member for member, _score in client.zrange(name, 0, -1, withscores=True)]
    if kind == "stream":
        values: list[bytes] = []
        for _id, fields in client.xrange(name):
            values.extend(part for pair in fields.items() for part in pair)
        return values
    return []


def parse_resp_commands(data: bytes) -> Iterator[list[bytes]] | None:
    """The commands of an AOF in RESP (`*<n>` then `$<len>` bulk strings); None when it is not RESP."""
    if not data.startswith(b"*"):
        return None

    def commands() -> Iterator[list[bytes]]:
        position = 0
        while position < len(data):
            if data[position : position + 1] != b"*":
                return  # a truncated tail (a killed Redis): what follows is not a whole command
            end = data.index(b"\r\n", position)
            argc = int(data[position + 1 : end])
            position = end + 2
            args = []
            for _ in range(argc):
                end = data.index(b"\r\n", position)
                length = int(data[position + 1 : end])
                args.append(data[end + 2 : end + 2 + length])
                position = end + 2 + length + 2
            yield args

    return commands()


def scan_secrets(
    secrets: Mapping[str, str],
    *,
    log_files: Iterable[Path],
    redis_client: redis.Redis | None,
    aof_files: Iterable[Path],
    tokens_key: str,
) -> SecretsScan:
    """Look for every secret value (name -> value) in the logs, the Redis and the AOF files of a run.

    `redis_client` must answer with bytes (decode_responses=False); `tokens_key` is the full name of the
    webhook-tokens hash, the one place a secret is expected."""
    wanted = {name: value.encode() for name, value in secrets.items() if value}
    scan = SecretsScan()
    for path in log_files:
        data = path.read_bytes()
        scan.log_files += 1
        scan.log_bytes += len(data)
        scan.hits.extend(f"log {path.name}: {name}" for name in _found(wanted, [data]))
    tokens_key_bytes = tokens_key.encode()
    if redis_client is not None:
        for name in redis_client.scan_iter(count=1000):
            scan.redis_keys += 1
            found = _found(wanted, [name, *_dump(redis_client, name)])
            if name == tokens_key_bytes:
                scan.expected += len(found)
            else:
                scan.hits.extend(f"redis {name.decode(errors='replace')}: {hit}" for hit in found)
    for path in aof_files:
        data = path.read_bytes()
        scan.aof_files += 1
        scan.aof_bytes += len(data)
        commands = parse_resp_commands(data)
        if commands is None:  # the manifest, or an RDB preamble: raw bytes
            scan.hits.extend(f"aof {path.name}: {name}" for name in _found(wanted, [data]))
            continue
        seen = 0
        for args in commands:
            seen += sum(len(arg) for arg in args)
            found = _found(wanted, args)
            if len(args) > 1 and args[1] == tokens_key_bytes:
                scan.expected += len(found)
            else:
                command = args[0].decode(errors="replace").upper() if args else "?"
                scan.hits.extend(f"aof {path.name} {command}: {hit}" for hit in found)
    return scan


def webhook_secrets(tokens: Mapping[str, str]) -> dict[str, str]:
    """Webhook tokens by a name for the report (`webhook token <event>`)."""
    return {f"webhook token {event}": token for event, token in tokens.items()}


def describe(scan: SecretsScan, limit: int = 10) -> list[str]:
    lines = [f"secrets scan: {scan.summary()}"]
    lines.extend(f"  ! {hit}" for hit in scan.hits[:limit])
    if len(scan.hits) > limit:
        lines.append(f"  ... and {len(scan.hits) - limit} more")
    return lines


def as_bytes_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=False, socket_timeout=5, socket_connect_timeout=2)
