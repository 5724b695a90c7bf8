-- Shared by the workloads: the token, the seeded data's size, and its ids.
-- `ordo seed` gives order n the id 01900000-0000-7000-8000-{n:012x} and customer c the id
-- 00000000-0000-4000-8000-{c:012x}. With ORDO_BENCH_TARGET=peer the same reads go to the
-- peer's generated routes (its create is bench/peer/plugin.js at ordo's path and body).
token = os.getenv("ORDO_BENCH_TOKEN")
orders = tonumber(os.getenv("ORDO_BENCH_ORDERS"))
customers = tonumber(os.getenv("ORDO_BENCH_CUSTOMERS"))
peer = os.getenv("ORDO_BENCH_TARGET") == "peer"
auth = { ["Authorization"] = "Bearer " .. token }
json = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }

function thread_seed()
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

function order_path()
  local id = string.format("01900000-0000-7000-8000-%012x", math.random(1, orders))
  if peer then return "/orders/" .. id end
  return "/v1/orders/" .. id
end

function customer_id()
  return string.format("00000000-0000-4000-8000-%012x", math.random(1, customers))
end

function list_path()
  if peer then
    return "/orders?limit=20&orderby.createdAt=desc&where.customerId.eq=" .. customer_id()
  end
  return "/v1/orders?limit=20&customer_id=" .. customer_id()
end

-- Three items, a tax rate: a realistic checkout. Its total (89.28) is one the simulated
-- gateway approves.
function create_body()
  return '{"customer_id":"' .. customer_id() .. '","currency":"USD","items":['
    .. '{"product_id":"0193a1a0-0000-7000-8000-0000000000aa","quantity":2,"unit_price":"19.99"},'
    .. '{"product_id":"0193a1a0-0000-7000-8000-0000000000bb","quantity":1,"unit_price":"5.00"},'
    .. '{"product_id":"0193a1a0-0000-7000-8000-0000000000cc","quantity":3,"unit_price":"12.50"}'
    .. '],"tax_rate":"0.0825"}'
end

-- The same checkout with its prices given and each line saying what it is, as the book would
-- fill it (sku, title, options, requires_shipping): the writes of `create_sku_body`, so the
-- two differ only by where the prices come from.
function create_given_body()
  return '{"customer_id":"' .. customer_id() .. '","currency":"USD","items":['
    .. '{"product_id":"0193a1a0-0000-7000-8000-0000000000aa","quantity":2,"unit_price":"19.99","sku":"TS-BLUE-L","title":"T-shirt","options":{"colour":"blue","size":"L"},"requires_shipping":true},'
    .. '{"product_id":"0193a1a0-0000-7000-8000-0000000000bb","quantity":1,"unit_price":"5.00","sku":"MUG-01","title":"Mug","requires_shipping":true},'
    .. '{"product_id":"0193a1a0-0000-7000-8000-0000000000cc","quantity":3,"unit_price":"12.50","sku":"SOCK-3","title":"Socks, three pairs","options":{"size":"M"},"requires_shipping":true}'
    .. '],"tax_rate":"0.0825"}'
end

-- The same checkout by SKU, priced from the book `ordo seed` stocks (the same unit prices,
-- so the same 89.28): what a customer's order costs ordo over one with its prices given.
function create_sku_body()
  return '{"customer_id":"' .. customer_id() .. '","currency":"USD","items":['
    .. '{"sku":"TS-BLUE-L","quantity":2},'
    .. '{"sku":"MUG-01","quantity":1},'
    .. '{"sku":"SOCK-3","quantity":3}'
    .. '],"tax_rate":"0.0825"}'
end
