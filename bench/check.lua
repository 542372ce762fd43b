-- wrk script: POST /v1/eligibility/check with IINs taken in turn from BENCH_IINS (one per
-- line), the election from BENCH_ELECTION and a bearer token from BENCH_TOKEN.
-- Prints one JSON line at the end, for bench/service_vs_bare.py to read.

local bodies = {}
local index = 0
local headers = {}

function init(args)
  local election = os.getenv("BENCH_ELECTION")
  headers["Content-Type"] = "application/json"
  headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
  for iin in io.lines(os.getenv("BENCH_IINS")) do
    bodies[#bodies + 1] = '{"iin":"' .. iin .. '","election_id":"' .. election .. '"}'
  end
  -- Threads start at different places so connections do not ask for the same voter at once.
  index = math.random(#bodies)
end

function request()
  index = index % #bodies + 1
  return wrk.format("POST", "/v1/eligibility/check", headers, bodies[index])
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"non_2xx":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, errors.status, errors.connect, errors.read, errors.write, errors.timeout))
end
