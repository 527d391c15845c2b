-- wrk script of bench/: send the requests of a file in turn, one a line, each thread from its
-- own offset, and tell apart what went wrong. Arguments after `--`: the file, then POST (each
-- line a JSON body) or GET (each line a path and query string).
--
-- Counted per thread, summed in done(): answers that are not a 200; 200s carrying GraphQL
-- "errors"; the first few bad answers (status and the start of the body), so a report can
-- show what failed; answers with `Masthead-Cache: hit`, so a cached run shows its hit ratio.
local requests = {}
local position = 0
non_200 = 0
graphql_errors = 0
cache_hits = 0
samples = ""
local sampled = 0
local threads = {}
local SAMPLES = 3

function setup(thread)
  thread:set("offset", #threads)
  table.insert(threads, thread)
end

function init(args)
  local path, method = args[1], args[2] or "POST"
  local headers = { ["Accept"] = "application/json" }
  if method == "POST" then headers["Content-Type"] = "application/json" end
  for line in io.lines(path) do
    if #line > 0 then
      if method == "POST" then
        requests[#requests + 1] = wrk.format("POST", nil, headers, line)
      else
        requests[#requests + 1] = wrk.format("GET", line, headers, nil)
      end
    end
  end
  if #requests == 0 then error("no requests in " .. tostring(path)) end
  -- Threads start apart, so that they do not ask for the same rows at the same time.
  position = (offset or 0) * 7919 % #requests
end

function request()
  position = position % #requests + 1
  return requests[position]
end

local function sample(status, body)
  if sampled < SAMPLES then
    sampled = sampled + 1
    -- One line per sample: the report prints them as they are.
    samples = samples .. status .. " " .. string.gsub(string.sub(body, 1, 300), "[\r\n]", " ") .. "\n"
  end
end

function response(status, headers, body)
  if status ~= 200 then
    non_200 = non_200 + 1
    sample(status, body)
  elseif string.find(body, '"errors"', 1, true) then
    graphql_errors = graphql_errors + 1
    sample(status, body)
  end
  if headers["Masthead-Cache"] == "hit" or headers["masthead-cache"] == "hit" then
    cache_hits = cache_hits + 1
  end
end

function done(summary, latency, requests)
  local non_200, graphql_errors, cache_hits, samples = 0, 0, 0, ""
  for _, thread in ipairs(threads) do
    non_200 = non_200 + (thread:get("non_200") or 0)
    graphql_errors = graphql_errors + (thread:get("graphql_errors") or 0)
    cache_hits = cache_hits + (thread:get("cache_hits") or 0)
    samples = samples .. (thread:get("samples") or "")
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d bytes=%d p50_us=%d p99_us=%d max_us=%d " ..
    "connect=%d read=%d write=%d timeout=%d non_200=%d graphql_errors=%d cache_hits=%d\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.timeout, non_200, graphql_errors, cache_hits))
  for line in string.gmatch(samples, "[^\n]+") do
    io.write("SAMPLE " .. line .. "\n")
  end
end
