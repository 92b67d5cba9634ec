-- The summary line of every run.
dofile("benches/wrk/report.lua")

-- Vector tiles of the communes at pseudo-random places of metropolitan France (fixed
-- seed), zoom 6 to 12 (ZOOMS, e.g. "8"), as a map panning and zooming asks them. No HTTP
-- cache in front: tiles down to zoom 9 are made once per build by the service itself
-- (the first request of each pays), the deeper ones on every request. ACCEPT_ENCODING
-- (e.g. "gzip, br", as browsers send) asks for compressed tiles.
math.randomseed(7)
local zooms = {}
for z in string.gmatch(os.getenv("ZOOMS") or "6,7,8,9,10,11,12", "%d+") do zooms[#zooms + 1] = tonumber(z) end
local layer = os.getenv("LAYER") or "communes"
local headers = {}
if os.getenv("ACCEPT_ENCODING") then headers["Accept-Encoding"] = os.getenv("ACCEPT_ENCODING") end
request = function()
  local z = zooms[math.random(#zooms)]
  local lon = -4.5 + math.random() * 12.0
  local lat = 42.5 + math.random() * 8.5
  local n = 2 ^ z
  local x = math.floor((lon + 180) / 360 * n)
  local r = math.rad(lat)
  local y = math.floor((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n)
  return wrk.format("GET", string.format("/collections/%s/tiles/WebMercatorQuad/%d/%d/%d", layer, z, y, x), headers)
end
