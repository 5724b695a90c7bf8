-- 80 % reads (half by id, half a customer's newest page) and 20 % creates.
package.path = os.getenv("ORDO_BENCH_LUA") .. "/?.lua;" .. package.path
require("common")
init = thread_seed
request = function()
  local dice = math.random(1, 10)
  if dice <= 4 then return wrk.format("GET", order_path(), auth) end
  if dice <= 8 then return wrk.format("GET", list_path(), auth) end
  return wrk.format("POST", "/v1/orders", json, create_body())
end
