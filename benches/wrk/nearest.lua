-- The summary line of every run.
dofile("benches/wrk/report.lua")

-- /nearest from pseudo-random points of metropolitan France (fixed seed: every run asks
-- the same sequence). KIND and K come from the environment (default: every kind, k=3).
math.randomseed(42)
local kind = os.getenv("KIND") or ""
local k = os.getenv("K") or "3"
request = function()
  local lon = -4.5 + math.random() * 12.0
  local lat = 42.5 + math.random() * 8.5
  local q = string.format("/nearest?lon=%.5f&lat=%.5f&k=%s", lon, lat, k)
  if kind ~= "" then q = q .. "&kind=" .. kind end
  return wrk.format("GET", q)
end
