#!/bin/bash
# The image's health check: asks the health endpoint the service wrote to
# HEALTHCHECK_FILE ("host port path") once it listened; healthy on a 2xx
# answer. Bash alone (/dev/tcp), a few ms: a check that starts node and loads
# the service costs ~0.6 s of CPU (packages/runtime/src/health.ts).
set -u
read -r host port path < "${HEALTHCHECK_FILE:?HEALTHCHECK_FILE is not set}" || exit 1
exec 3<> "/dev/tcp/$host/$port" || exit 1
printf 'GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$path" "$host" >&3
read -r -t 4 version status _ <&3 || exit 1
# A status line without a reason phrase ends in CR right after the code.
[[ $version == HTTP/1.[01] && ${status%$'\r'} == 2[0-9][0-9] ]]
