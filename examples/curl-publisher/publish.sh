#!/usr/bin/env bash
# Publishes audit events with curl over auditstream's HTTP JSON API (Connect unary).
#
#   publish.sh '<event JSON>'                  -> Publish: prints {"eventId","sequence","cursor"}
#   publish.sh '<event JSON>' '<event JSON>'...  -> PublishBatch: prints {"results":[...],"acceptedCount":N}
#
# AUDITSTREAM_URL: the HTTP port (default http://127.0.0.1:8080). AUDITSTREAM_TOKEN: a bearer token, if
# security is on. On success the server's answer goes to stdout and the exit code is 0. On failure the
# server's JSON error ({"code","message"}, or a batch answer with rejected events) goes to stderr and
# the exit code is 1; curl's own failures (no connection, ...) keep curl's exit code.
set -euo pipefail

if [[ $# -eq 0 ]]; then
  echo "usage: $0 '<event JSON>' ['<event JSON>' ...]" >&2
  exit 2
fi

url=${AUDITSTREAM_URL:-http://127.0.0.1:8080}
if [[ $# -eq 1 ]]; then
  method=Publish
  payload="{\"event\":$1}"
else
  method=PublishBatch
  payload="{\"events\":[$(IFS=,; echo "$*")]}"
fi

# The token reaches curl as a header file (curl -H @file), not on its command line, where any local
# user could read it with `ps`. No token: an empty file, no header.
auth_header() {
  if [[ -n ${AUDITSTREAM_TOKEN:-} ]]; then printf 'Authorization: Bearer %s\n' "$AUDITSTREAM_TOKEN"; fi
}

# The body comes from stdin for the same reason, and so that any size fits. -w appends the status
# on a line of its own, to tell the server's errors (4xx/5xx with a JSON body) from its answers.
answer=$(printf '%s' "$payload" | curl -sS -X POST "$url/audit.v1.AuditService/$method" \
  -H 'Content-Type: application/json' -H @<(auth_header) --data-binary @- -w '\n%{http_code}')
status=${answer##*$'\n'}
body=${answer%$'\n'*}

if [[ $status != 2?? ]]; then
  echo "$body" >&2
  exit 1
fi
# A batch is answered 200 even when some events are refused (each result says why). Canonical proto
# JSON leaves out a zero count, so "rejectedCount" is present only when an event was refused.
if [[ $method == PublishBatch && $body == *'"rejectedCount"'* ]]; then
  echo "$body" >&2
  exit 1
fi
echo "$body"
