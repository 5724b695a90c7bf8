-- The HTTP stack's ceiling: an endpoint that touches nothing.
request = function() return wrk.format("GET", "/healthz") end
