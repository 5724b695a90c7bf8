-- Staff search: a mix of GET /v1/orders filters over every customer's orders, as support and
-- warehouse staff send them. The seeded records (crates/cli/src/seed.rs) give customer c the
-- email first.last<c>@example.com, with first = FIRST[c % 16] and last = LAST[(c / 16) % 16].
package.path = os.getenv("ORDO_BENCH_LUA") .. "/?.lua;" .. package.path
require("common")
init = thread_seed

local FIRST = { "ada", "grace", "alan", "edsger", "barbara", "donald", "margaret", "ken",
  "radia", "dennis", "frances", "john", "hedy", "tim", "katherine", "linus" }
local LAST = { "lovelace", "hopper", "turing", "dijkstra", "liskov", "knuth", "hamilton",
  "thompson", "perlman", "ritchie", "allen", "mccarthy", "lamarr", "berners-lee", "johnson",
  "torvalds" }
local TAGS = { "vip", "gift", "wholesale", "fragile" }
local SKUS = { "TS-BLUE-L", "MUG-01", "SOCK-3", "GIFT-25", "CAP-RED", "BOOK-RUST" }
local CHANNELS = { "web", "pos", "marketplace", "phone" }
local STATUSES = { "pending", "processing", "completed", "cancelled" }
local PAYMENTS = { "unpaid", "authorized", "paid", "refunded", "failed" }

local function pick(list) return list[math.random(1, #list)] end

local function email(c)
  return FIRST[c % 16 + 1] .. "." .. LAST[math.floor(c / 16) % 16 + 1] .. c .. "%40example.com"
end

-- Each query, and how often it comes, out of 20.
local queries = {
  { 4, function() return "email=" .. email(math.random(1, customers)) end },
  { 1, function() return "q=" .. email(math.random(1, customers)) end },
  { 3, function() return "q=" .. pick(LAST) end },
  { 2, function() return "q=" .. LAST[1] .. math.random(1, customers) .. "%40" end },
  { 2, function() return "tag=" .. pick(TAGS) end },
  { 2, function() return "sku=" .. pick(SKUS) .. "&status=" .. pick(STATUSES) end },
  { 2, function() return "payment_status=" .. pick(PAYMENTS) end },
  { 2, function() return "channel=" .. pick(CHANNELS) .. "&tag=" .. pick(TAGS) end },
  { 2, function()
      local low = math.random(1, 400)
      return "total_min=" .. low .. "&total_max=" .. (low + 1) .. ".50"
    end },
}

request = function()
  local roll = math.random(1, 20)
  for _, query in ipairs(queries) do
    roll = roll - query[1]
    if roll <= 0 then
      return wrk.format("GET", "/v1/orders?limit=20&" .. query[2](), auth)
    end
  end
end
