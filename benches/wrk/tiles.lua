-- The summary line of every run.
dofile("benches/wrk/report.lua")

-- Vector tiles of the communes at pseudo-random places of metropolitan France (fixed
-- seed), zoom 6 to 12 (ZOOMS, e.g. "8"), as a map panning and zooming asks them; no
-- tile is cached by the server: each is cut and encoded on request.
math.randomseed(7)
local zooms = {}
for z in string.gmatch(os.getenv("ZOOMS") or "6,7,8,9,10,11,12", "%d+") do zooms[#zooms + 1] = tonumber(z) end
local layer = os.getenv("LAYER") or "communes"
request = function()
  local z = zooms[math.random(#zooms)]
  local lon = -4.5 + math.random() * 12.0
  local lat = 42.5 + math.random() * 8.5
  local n = 2 ^ z
  local x = math.floor((lon + 180) / 360 * n)
  local r = math.rad(lat)
  local y = math.floor((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n)
  return wrk.format("GET", string.format("/collections/%s/tiles/WebMercatorQuad/%d/%d/%d", layer, z, y, x))
end
