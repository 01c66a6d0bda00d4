-- bench/serve-post.lua: wrk's request for bench/serve.sh, an Invoke
-- API call with a small JSON event, the same for the floor.
wrk.method = "POST"
wrk.body = '{"id":42,"name":"bench"}'
wrk.headers["Content-Type"] = "application/json"
