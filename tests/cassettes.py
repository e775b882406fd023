"""Recorded HTTP interactions read from VCR cassettes, as the replay server serves them.

Two layouts occur in ../shared/testdata/literature-apis (see its SOURCES.md):

* vcrpy (`interactions:`): `response.status.code`, headers as lists, and
  `response.body.string` either text or, when the server answered with
  `Content-Encoding: gzip`, YAML `!!binary` of the gzip-compressed bytes;
* R vcr (`http_interactions:`): `response.status` an int (vcr 2.x) or a map with
  `status_code` (older vcr), headers as scalars, `response.body.string` text.

The bodies come back decompressed; `Content-Encoding` and `Content-Length` are
dropped from the replayed headers because the replay server sends the plain bytes.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from tests.replay_server import Reply

_NOT_REPLAYED = {"content-encoding", "content-length", "transfer-encoding", "connection"}


@dataclass(frozen=True)
class Interaction:
    method: str
    uri: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def reply(self, *extra_headers: tuple[str, str]) -> Reply:
        return Reply(self.status, self.body, self.headers + extra_headers)

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers if k.lower() == name.lower()), "")


@lru_cache(maxsize=None)
def interactions(path: Path) -> tuple[Interaction, ...]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    items = document.get("interactions") or document.get("http_interactions") or []
    return tuple(_interaction(item) for item in items)


def _interaction(item: dict) -> Interaction:
    request, response = item["request"], item["response"]
    status = response["status"]
    if isinstance(status, dict):
        status = status.get("code", status.get("status_code"))
    headers: list[tuple[str, str]] = []
    for name, value in (response.get("headers") or {}).items():
        if name.lower() in _NOT_REPLAYED:
            continue
        for one in value if isinstance(value, list) else [value]:
            headers.append((name, str(one)))
    body = response.get("body", {}).get("string", "")
    if isinstance(body, bytes):
        # vcrpy keeps a gzip-encoded answer as its compressed bytes.
        body = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
    else:
        body = body.encode("utf-8")
    return Interaction(request["method"].upper(), request["uri"], int(status), tuple(headers), body)
