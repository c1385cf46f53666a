-- Coroutines: generators, passing values both ways, errors, wrap, close.
local function gen(n)
    return coroutine.wrap(function() for i = 1, n do coroutine.yield(i * i) end end)
end
local out = {}
for v in gen(10) do out[#out + 1] = v end
print(table.concat(out, " "))
local co = coroutine.create(function(a, b)
    print("start", a, b)
    local c = coroutine.yield(a + b)
    print("got", c)
    local d, e = coroutine.yield(c * 2)
    print("got", d, e)
    return "done", d + e
end)
print(coroutine.resume(co, 1, 2))
print(coroutine.status(co))
print(coroutine.resume(co, 10))
print(coroutine.resume(co, 3, 4))
print(coroutine.status(co), coroutine.resume(co))
local bad = coroutine.create(function() error("inside") end)
print(coroutine.resume(bad))
print(coroutine.isyieldable(), select(2, coroutine.running()))
local pending = coroutine.create(function() local x <close> = setmetatable({}, { __close = function() print("closing pending") end }); coroutine.yield() end)
coroutine.resume(pending)
print(coroutine.close(pending), coroutine.status(pending))
-- Producer/consumer through a pipe of coroutines, and a round-robin scheduler.
local function producer() return coroutine.create(function() for _, w in ipairs({ "alpha", "beta", "gamma" }) do coroutine.yield(w) end end) end
local function filter(p) return coroutine.create(function()
    while true do local ok, v = coroutine.resume(p); if not v then return end; coroutine.yield(v:upper()) end end) end
local f = filter(producer())
while true do local _, v = coroutine.resume(f); if not v then break end; io.write(v, " ") end
print()
local tasks, log = {}, {}
for id = 1, 3 do tasks[id] = coroutine.create(function() for step = 1, id do log[#log + 1] = id .. "." .. step; coroutine.yield() end end) end
repeat
    local alive = false
    for _, t in ipairs(tasks) do if coroutine.status(t) ~= "dead" then coroutine.resume(t); alive = true end end
until not alive
print(table.concat(log, " "))
local depth = 0
local function nest(n) if n == 0 then return coroutine.yield("bottom") end; depth = depth + 1; return nest(n - 1) end
local deep = coroutine.wrap(function() return nest(150) end)
print(deep(), depth, deep("back up"))
