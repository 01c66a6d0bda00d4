# Handlers for curl-bootstrap.sh (tests/peers/fun.js runs them under
# @vercel/fun).  Sourced once, at init; each function gets the event as $1.

# The result tells the driver which runtime process ran the event, and
# how many events that process had run: its warmth.
handler() {
  case $1 in
    *'"fail"'*)
      printf '{"errorType":"Peer.Failure","errorMessage":"asked to fail"}'
      return 3 ;;
  esac
  printf '{"event":%s,"invocation":%d,"pid":%d,"requestId":"%s"}' \
    "$1" "$INVOCATION" "$$" "$REQUEST_ID"
}
