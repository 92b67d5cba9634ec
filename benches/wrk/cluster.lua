-- The load of benches/cluster.sh: public reads and saved-scenario writes through nginx.
-- About WRITE_SHARE (default 0.05) POST /saved-scenarios with the planner token TOKEN, the
-- rest reads: /nearest, collection items, coverage of a CLS, vector tiles. Half the reads
-- name the build the thread saw first (X-Careaccess-Build, tiles `?v=`), as the web page
-- does, so that a rolling update is crossed by pinned pages. Deterministic per thread
-- (SEED + thread number).
--
-- Every acknowledged write (201 with an id) is appended at once to ACK_LOG.<thread>, one
-- id a line, so that the script can look for each in PostgreSQL afterwards.
--
-- Prints the RESULT line of report.lua, then
--   CLUSTER writes=… acknowledged=… unanswered=… pinned=… failed=…
--   STATUS 200=… 201=… [502=… …]
--   ERROR <status> <body start>          the first failures (3 per thread at most)
-- Each write carries an Idempotency-Key (thread and sequence number), as the web page's
-- does: nginx passes a keyed write that was on a killed replica to another one, which
-- saves it once. `unanswered` counts nginx's own 502 pages, which should no longer
-- happen; cluster.sh counts them as failures.
dofile("benches/wrk/report.lua")
local report_done = done

local seed = tonumber(os.getenv("SEED") or "42")
local token = os.getenv("TOKEN") or ""
local ack_log = os.getenv("ACK_LOG") or "/tmp/careaccess-acks"
local write_share = tonumber(os.getenv("WRITE_SHARE") or "0.05")

local LON0, LON1, LAT0, LAT1 = -4.5, 7.5, 42.5, 51.0
local cls = { "thouarsais", "mauges", "coevrons", "challans-gois-ocean-marais-de-monts" }
local kinds = { "msp", "ehpad", "hospital" }

local threads = {}
local next_id = 0
setup = function(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

init = function(args)
  math.randomseed(seed + (id or 0))
  writes, acknowledged, unanswered, pinned, failed = 0, 0, 0, 0, 0
  statuses = {}
  errors_seen = 0
  error_text = ""
  build = nil
  acks = io.open(string.format("%s.%d", ack_log, id or 0), "a")
  n = 0
end

local function pick(t) return t[math.random(1, #t)] end

-- A tile of France at zoom 6–9 (x, y of WebMercatorQuad).
local function tile_path()
  local z = math.random(6, 9)
  local lon = LON0 + math.random() * (LON1 - LON0)
  local lat = LAT0 + math.random() * (LAT1 - LAT0)
  local nt = 2 ^ z
  local x = math.floor((lon + 180) / 360 * nt)
  local r = math.rad(lat)
  local y = math.floor((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * nt)
  return string.format("/collections/communes/tiles/WebMercatorQuad/%d/%d/%d", z, y, x)
end

request = function()
  n = n + 1
  local r = math.random()
  if r < write_share and token ~= "" then
    writes = writes + 1
    local body = string.format(
      '{"name":"bench %d-%d","kind":"msp","within_km":5,"territory":"cls:thouarsais",' ..
      '"changes":[{"op":"add","lon":%.4f,"lat":%.4f,"name":"MSP (projet)"}]}',
      id or 0, n, -0.35 + math.random() * 0.2, 46.9 + math.random() * 0.1)
    return wrk.format("POST", "/saved-scenarios", {
      ["Authorization"] = "Bearer " .. token,
      ["Content-Type"] = "application/json",
      ["Idempotency-Key"] = string.format("bench-%d-%d-%d", seed, id or 0, n),
    }, body)
  end
  local headers = {}
  local pin = build ~= nil and math.random() < 0.5
  if pin then
    pinned = pinned + 1
    headers["X-Careaccess-Build"] = build
  end
  local path
  local s = math.random()
  if s < 0.40 then
    path = string.format("/nearest?lon=%.5f&lat=%.5f&k=3&kind=%s",
      LON0 + math.random() * (LON1 - LON0), LAT0 + math.random() * (LAT1 - LAT0), pick(kinds))
  elseif s < 0.65 then
    local lon = LON0 + math.random() * (LON1 - LON0 - 0.2)
    local lat = LAT0 + math.random() * (LAT1 - LAT0 - 0.2)
    path = string.format("/collections/communes/items?bbox=%.4f,%.4f,%.4f,%.4f&limit=50",
      lon, lat, lon + 0.2, lat + 0.2)
  elseif s < 0.80 then
    path = string.format("/territories/cls/%s/coverage?kind=%s", pick(cls), pick(kinds))
  else
    path = tile_path()
    if pin then path = path .. "?v=" .. build end
    headers["Accept-Encoding"] = "gzip"
  end
  return wrk.format("GET", path, headers)
end

response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if build == nil then
    build = headers["x-careaccess-build"] or headers["X-Careaccess-Build"]
  end
  if status == 201 then
    local got = (body or ""):match('"id":"([%w%-]+)"')
    if got then
      acknowledged = acknowledged + 1
      acks:write(got, "\n")
      acks:flush()
    end
    return
  end
  if status >= 200 and status <= 299 then return end
  if status == 502 and (body or ""):find("nginx", 1, true) then
    unanswered = unanswered + 1
  else
    failed = failed + 1
  end
  if errors_seen < 3 then
    errors_seen = errors_seen + 1
    error_text = error_text .. string.format("ERROR %d %s\n", status,
      ((body or ""):sub(1, 300):gsub("%s+", " ")))
  end
end

done = function(summary, latency, requests)
  report_done(summary, latency, requests)
  local t = { writes = 0, acknowledged = 0, unanswered = 0, pinned = 0, failed = 0 }
  local by_status = {}
  local errs = ""
  for _, th in ipairs(threads) do
    for k in pairs(t) do t[k] = t[k] + (th:get(k) or 0) end
    for s, v in pairs(th:get("statuses") or {}) do by_status[s] = (by_status[s] or 0) + v end
    errs = errs .. (th:get("error_text") or "")
  end
  io.write(string.format("CLUSTER writes=%d acknowledged=%d unanswered=%d pinned=%d failed=%d socket_errors=%d\n",
    t.writes, t.acknowledged, t.unanswered, t.pinned, t.failed,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
  local codes = {}
  for s in pairs(by_status) do table.insert(codes, s) end
  table.sort(codes)
  local parts = {}
  for _, s in ipairs(codes) do table.insert(parts, string.format("%d=%d", s, by_status[s])) end
  io.write("STATUS " .. table.concat(parts, " ") .. "\n")
  io.write(errs)
end
