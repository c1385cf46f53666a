-- Tables: sorting, insertion and removal, metatables, the garbage collector.
local t = {}
for i = 1, 20 do t[i] = (i * 7919) % 101 end
table.sort(t)
print(table.concat(t, ","))
table.sort(t, function(a, b) return a > b end)
print(table.concat(t, ",", 1, 5))
table.insert(t, 1, -1); table.insert(t, 99); print(#t, table.remove(t), table.remove(t, 1), #t)
print(table.unpack(table.move({ 1, 2, 3, 4, 5 }, 2, 4, 1)))
print(select("#", table.unpack({ 1, nil, 3 }, 1, 3)), select(-1, 1, 2, 3))
local words = { "pear", "apple", "fig", "banana", "cherry" }
table.sort(words, function(a, b) if #a ~= #b then return #a < #b end return a < b end)
print(table.concat(words, " "))
-- Iteration in key order, since pairs' order is unspecified.
local counts = {}
for _, w in ipairs({ "a", "b", "a", "c", "b", "a" }) do counts[w] = (counts[w] or 0) + 1 end
local keys = {}
for k in pairs(counts) do keys[#keys + 1] = k end
table.sort(keys)
for _, k in ipairs(keys) do io.write(k, "=", counts[k], " ") end
print()
local Vec = {}
Vec.__index = Vec
Vec.__add = function(a, b) return setmetatable({ x = a.x + b.x, y = a.y + b.y }, Vec) end
Vec.__eq = function(a, b) return a.x == b.x and a.y == b.y end
Vec.__tostring = function(v) return "(" .. v.x .. "," .. v.y .. ")" end
Vec.__len = function() return 2 end
Vec.__call = function(v, k) return v.x * k end
function Vec.new(x, y) return setmetatable({ x = x, y = y }, Vec) end
function Vec:dot(o) return self.x * o.x + self.y * o.y end
local a, b = Vec.new(1, 2), Vec.new(3, 4)
print(tostring(a + b), a:dot(b), a == Vec.new(1, 2), #a, a(10), rawequal(a, Vec.new(1, 2)))
local defaults = setmetatable({}, { __index = function(_, k) return k .. "?" end, __newindex = function(t2, k, v) rawset(t2, k, v * 2) end })
defaults.n = 21
print(defaults.n, defaults.missing, rawget(defaults, "missing"))
local weak = setmetatable({}, { __mode = "k" })
do weak[{}] = 1 end
collectgarbage(); collectgarbage()
local n = 0
for _ in pairs(weak) do n = n + 1 end
print("weak entries after collect", n)
local big = {}
for i = 1, 200000 do big[i] = { i, tostring(i) } end
local sum = 0
for i = 1, #big, 1000 do sum = sum + big[i][1] + #big[i][2] end
big = nil
collectgarbage()
print("sum", sum, collectgarbage("count") < 10000)
local closed = {}
do
    local x <close> = setmetatable({}, { __close = function() closed[#closed + 1] = "closed" end })
    local y <const> = 5
    closed[#closed + 1] = "body " .. y
end
print(table.concat(closed, ", "))
print(pcall(error, { code = 7 }), select(2, pcall(error, "msg", 0)), select(2, xpcall(function() error("deep") end, function(m) return "handled: " .. m end)))
