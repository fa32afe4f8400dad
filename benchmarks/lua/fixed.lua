-- One fixed request (path and headers from the wrk command line), reported as JSON.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")
