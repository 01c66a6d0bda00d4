#!/bin/sh
# curl-bootstrap.sh: a Lambda Runtime API client written in the shell
# with curl, in the manner of the custom runtime of Lambda's tutorial: a
# loop that asks for the next event, hands it to a shell function, and
# posts what the function printed.  It is a peer of guile-lambda
# bootstrap, the other kind of program a Runtime API server runs:
# tests/peers/fun.js runs it under @vercel/fun, and the supervisor will
# run it with --runtime-command.
#
# _HANDLER is FILE.FUNCTION: FILE.sh, under LAMBDA_TASK_ROOT, is sourced
# once (the init phase) and defines FUNCTION.  FUNCTION gets the event
# as $1, and REQUEST_ID and INVOCATION (1 on a cold start) as variables;
# what it prints is the result.  If it exits with a status other than 0
# the invocation fails: what it printed is the error object if that is a
# JSON object, else one is made of the status.
set -u

: "${AWS_LAMBDA_RUNTIME_API:?is not set: the Runtime API's HOST:PORT}"
: "${_HANDLER:?is not set: FILE.FUNCTION}"
: "${LAMBDA_TASK_ROOT:=.}"
api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
me="curl-bootstrap"

# The Runtime API is on this host: no proxy of the environment's.
api_curl() {
  curl -sS --noproxy '*' "$@"
}

# post PATH BODY [ERROR-TYPE]: send BODY to the API; 0 if it was taken.
post() {
  if [ $# -ge 3 ]; then
    code=$(printf '%s' "$2" | api_curl -o /dev/null -w '%{http_code}' \
      -X POST -H 'Content-Type: application/json' \
      -H "Lambda-Runtime-Function-Error-Type: $3" \
      --data-binary @- "$api/$1") || return 1
  else
    code=$(printf '%s' "$2" | api_curl -o /dev/null -w '%{http_code}' \
      -X POST -H 'Content-Type: application/json' \
      --data-binary @- "$api/$1") || return 1
  fi
  [ "$code" = 202 ] ||
    echo "$me: the Runtime API answered $code to POST $1" >&2
}

# error_object TYPE MESSAGE: Lambda's error object (MESSAGE has no quotes).
error_object() {
  printf '{"errorType":"%s","errorMessage":"%s","stackTrace":[]}' "$1" "$2"
}

# The errorType of the error object $1, for the header that carries it.
error_type() {
  printf '%s' "$1" | sed -n 's/.*"errorType"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p'
}

# header NAME: the value of the response header NAME in $headers.
header() {
  printf '%s\n' "$headers" | awk -v name="$1" '
    BEGIN { name = tolower(name) }
    (i = index($0, ":")) && tolower(substr($0, 1, i - 1)) == name {
      v = substr($0, i + 1); sub(/^[ \t]+/, "", v); print v; exit
    }'
}

init_fail() {
  echo "$me: $2" >&2
  post init/error "$(error_object "$1" "$2")" "$1"
  exit 1
}

# The init phase.
file=${_HANDLER%.*}
function=${_HANDLER##*.}
case $_HANDLER in
  *.*) ;;
  *) init_fail Runtime.MalformedHandlerName \
       "_HANDLER is '$_HANDLER', not FILE.FUNCTION" ;;
esac
[ -r "$LAMBDA_TASK_ROOT/$file.sh" ] ||
  init_fail Runtime.ImportModuleError \
    "cannot read $file.sh in $LAMBDA_TASK_ROOT"
. "$LAMBDA_TASK_ROOT/$file.sh" ||
  init_fail Runtime.ImportModuleError "$file.sh failed as it was sourced"
[ "$(command -v "$function")" = "$function" ] ||
  init_fail Runtime.HandlerNotFound "$file.sh defines no function $function"

# The invocations: the long poll for `next' has no time limit.
INVOCATION=0
while :; do
  response=$(api_curl -i "$api/invocation/next") || {
    echo "$me: cannot get the next invocation from $api" >&2
    exit 1
  }
  # Headers, then a blank line, then the event; HTTP's CRs go.
  response=$(printf '%s\n' "$response" | tr -d '\r')
  headers=$(printf '%s\n' "$response" | sed '/^$/q')
  event=$(printf '%s\n' "$response" | sed '1,/^$/d')
  REQUEST_ID=$(header Lambda-Runtime-Aws-Request-Id)
  if [ -z "$REQUEST_ID" ]; then
    echo "$me: the Runtime API sent an event without a request id" >&2
    exit 1
  fi
  _X_AMZN_TRACE_ID=$(header Lambda-Runtime-Trace-Id)
  export _X_AMZN_TRACE_ID
  INVOCATION=$((INVOCATION + 1))

  result=$("$function" "$event")
  status=$?
  if [ $status -eq 0 ]; then
    post "invocation/$REQUEST_ID/response" "$result" || exit 1
  else
    case $result in
      "{"*) ;;
      *) result=$(error_object HandlerFailed \
                    "$function exited with status $status") ;;
    esac
    type=$(error_type "$result")
    post "invocation/$REQUEST_ID/error" "$result" "${type:-HandlerFailed}" ||
      exit 1
  fi
done
