-- A mix of the service's read routes for the load test (benches/load.sh): about 40 %
-- /nearest, 35 % collection items, 25 % coverage. Pseudo-random but deterministic: thread i
-- seeds with SEED + i (SEED from the environment, default 42), so every run asks the same
-- sequence per thread. Every URL shape was checked to answer 200 on the national build.
--
-- Prints the RESULT line of report.lua, then
--   MIX nearest=… items=… coverage=…      requests sent per family
--   STATUS 200=… [404=… …]                answers per HTTP status
--   ERROR <status> <body start>           the first non-2xx answers (3 per thread at most)
dofile("benches/wrk/report.lua")
local report_done = done

local seed = tonumber(os.getenv("SEED") or "42")

-- Départements (metropolitan, Corsica, overseas) for the coverage requests.
local departements = {
  "79", "49", "53", "85", "33", "75", "13", "69", "2A", "2B",
  "971", "972", "974", "976", "59", "67", "29", "31", "44", "06", "01",
}
local kinds = { "msp", "ehpad", "hospital" }
local within = { "10", "20" }

-- Metropolitan France's bounding box (the same as nearest.lua).
local LON0, LON1, LAT0, LAT1 = -4.5, 7.5, 42.5, 51.0

-- A bbox of side `side` degrees at a random place inside metropolitan France.
local function bbox(side_min, side_max)
  local side = side_min + math.random() * (side_max - side_min)
  local lon = LON0 + math.random() * (LON1 - LON0 - side)
  local lat = LAT0 + math.random() * (LAT1 - LAT0 - side)
  return string.format("%.4f,%.4f,%.4f,%.4f", lon, lat, lon + side, lat + side)
end

local function pick(t)
  return t[math.random(1, #t)]
end

-- setup() runs in the main Lua state, once per thread: keep the threads for done().
local threads = {}
local next_id = 0
setup = function(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

-- The rest runs in each thread's own Lua state.
init = function(args)
  math.randomseed(seed + (id or 0))
  sent = { nearest = 0, items = 0, coverage = 0 }
  statuses = {}
  errors_seen = 0
  error_text = ""
end

request = function()
  local r = math.random()
  local path, family
  if r < 0.40 then
    family = "nearest"
    local lon = LON0 + math.random() * (LON1 - LON0)
    local lat = LAT0 + math.random() * (LAT1 - LAT0)
    path = string.format("/nearest?lon=%.5f&lat=%.5f&k=3", lon, lat)
    if r < 0.20 then path = path .. "&kind=" .. pick(kinds) end
  elseif r < 0.75 then
    family = "items"
    if r < 0.55 then
      path = "/collections/communes/items?bbox=" .. bbox(0.05, 0.25) .. "&limit=50"
    elseif r < 0.67 then
      path = "/collections/ehpad/items?bbox=" .. bbox(0.2, 0.6) .. "&limit=200"
    else
      path = string.format("/collections/msp/items?limit=100&offset=%d", math.random(0, 42))
    end
  else
    family = "coverage"
    if r < 0.98 then
      path = string.format("/territories/departement/%s/coverage?kind=%s&within_km=%s",
        pick(departements), pick(kinds), pick(within))
    else
      path = "/territories/cls/thouarsais/coverage?kind=msp"
    end
  end
  sent[family] = sent[family] + 1
  return wrk.format("GET", path)
end

response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if (status < 200 or status > 299) and errors_seen < 3 then
    errors_seen = errors_seen + 1
    error_text = error_text .. string.format("ERROR %d %s\n", status,
      ((body or ""):sub(1, 300):gsub("%s+", " ")))
  end
end

done = function(summary, latency, requests)
  report_done(summary, latency, requests)
  local families = { nearest = 0, items = 0, coverage = 0 }
  local by_status = {}
  local errs = ""
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("sent") or {}) do families[k] = families[k] + v end
    for s, v in pairs(t:get("statuses") or {}) do by_status[s] = (by_status[s] or 0) + v end
    errs = errs .. (t:get("error_text") or "")
  end
  io.write(string.format("MIX nearest=%d items=%d coverage=%d\n",
    families.nearest, families.items, families.coverage))
  local codes = {}
  for s in pairs(by_status) do table.insert(codes, s) end
  table.sort(codes)
  local parts = {}
  for _, s in ipairs(codes) do table.insert(parts, string.format("%d=%d", s, by_status[s])) end
  io.write("STATUS " .. table.concat(parts, " ") .. "\n")
  io.write(errs)
end
