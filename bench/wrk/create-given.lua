package.path = os.getenv("ORDO_BENCH_LUA") .. "/?.lua;" .. package.path
require("common")
init = thread_seed
request = function() return wrk.format("POST", "/v1/orders", json, create_given_body()) end
