-- Requests a path template ("/articles/{id}") with the ids listed in a file, one per
-- line, in turn: every request reads another row, so no single hot row or page is what
-- gets measured. Each wrk thread starts at its own offset in the list.
--   wrk -tTHREADS ... -s spread.lua URL -- IDS_FILE PATH_TEMPLATE THREADS
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local ids, template, position = {}, nil, 0
local threads = 0

function setup(thread)
  thread:set("offset", threads)
  threads = threads + 1
end

function init(args)
  for line in io.lines(args[1]) do
    ids[#ids + 1] = line
  end
  template = args[2]
  position = (offset or 0) * math.floor(#ids / tonumber(args[3] or 1))
end

function request()
  position = position % #ids + 1
  return wrk.format(nil, (template:gsub("{id}", ids[position])))
end
