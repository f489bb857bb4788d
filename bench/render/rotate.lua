-- wrk script: each request asks for the next path of PATHS (one per machine), so every request renders a
-- different machine's file. Each wrk thread starts at a different offset.
local paths = {}
for line in io.lines(os.getenv("PATHS")) do paths[#paths + 1] = line end
local i = 0
local started = false
request = function()
  if not started then
    started = true
    i = math.random(#paths)
  end
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
