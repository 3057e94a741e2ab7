#!/bin/sh
# Renders nginx.conf.template from the environment: `render.sh [TEMPLATE] > nginx.conf`.
#
# ${NAME} is replaced by the variable's value. A line holding ${NAME_SERVERS} is written once
# per address of that list (separated by spaces or commas), so one template serves any
# number of replicas:  ROUTER_SERVERS="router-1:4000 router-2:4000"  turns
#     server ${ROUTER_SERVERS} max_fails=1 fail_timeout=10s;
# into one `server` line per replica. NGINX's own variables ($host, $remote_addr, ...) have
# no braces and are left alone, and so are comment lines. An unset or empty placeholder is an error (exit 1), never
# an empty string in the output.
#
# POSIX sh and awk only, so it runs in the stock nginx image as well as on a CI host.
set -eu
template="${1:-$(dirname "$0")/nginx.conf.template}"
exec awk '
function fail(msg) { print "render.sh: " msg > "/dev/stderr"; failed = 1; exit 1 }
function value(name) {
    if (!(name in ENVIRON) || ENVIRON[name] == "") fail(FILENAME ":" FNR ": " name " is not set")
    return ENVIRON[name]
}
# Replaces every scalar ${NAME} in `line`.
function fill(line,    out, name) {
    out = ""
    while (match(line, /[$][{][A-Za-z_][A-Za-z0-9_]*[}]/)) {
        name = substr(line, RSTART + 2, RLENGTH - 3)
        if (name ~ /_SERVERS$/) fail(FILENAME ":" FNR ": " name " must be alone on its line")
        out = out substr(line, 1, RSTART - 1) value(name)
        line = substr(line, RSTART + RLENGTH)
    }
    return out line
}
# Comments are copied as they are (they may show placeholders).
/^[ \t]*#/ { print; next }
{
    if (match($0, /[$][{][A-Za-z_][A-Za-z0-9_]*_SERVERS[}]/)) {
        name = substr($0, RSTART + 2, RLENGTH - 3)
        before = substr($0, 1, RSTART - 1)
        after = substr($0, RSTART + RLENGTH)
        list = value(name)
        gsub(/,/, " ", list)
        n = split(list, servers, " ")
        if (n == 0) fail(FILENAME ":" FNR ": " name " lists no address")
        for (i = 1; i <= n; i++) print fill(before) servers[i] fill(after)
        next
    }
    print fill($0)
}
END { if (failed) exit 1 }
' "$template"
