-- The io library: files in the current directory, modes, seeking, line reading, buffering.
local f = assert(io.open("io_test.txt", "w"))
for i = 1, 1000 do f:write(string.format("line %04d %s\n", i, string.rep("x", i % 37))) end
print(f:seek("cur"), f:seek("end"), f:seek("set", 10))
f:close()
local n, bytes = 0, 0
for line in io.lines("io_test.txt") do n = n + 1; bytes = bytes + #line end
print(n, bytes)
f = assert(io.open("io_test.txt", "r"))
print(f:read("l"), f:read(4), f:read("n"), f:read("L"))
f:seek("set", 0)
local all = f:read("a")
print(#all, f:read("a") == "", f:read("l"))
f:close()
print(pcall(f.read, f))
print(io.type(f), io.type(io.stdout), io.type(42))
f = assert(io.open("io_test.txt", "a+"))
f:write("appended\n")
f:seek("set", 0)
print(f:read("l"))
print(f:seek("end"))
f:close()
f = assert(io.open("io_test.bin", "wb"))
local t = {}
for i = 0, 255 do t[#t + 1] = string.char(i) end
f:write(table.concat(t)); f:close()
f = assert(io.open("io_test.bin", "rb"))
local data = f:read(300)
print(#data, data:byte(1), data:byte(256), f:read(1))
f:close()
f = assert(io.open("io_test.txt", "r+"))
f:write("LINE"); f:seek("set", 0); print(f:read("l")); f:close()
f = assert(io.open("io_test.txt"))
print(f:setvbuf("full", 4096), f:setvbuf("no"))
f:close()
print(io.open("no/such/dir/file", "w"))
print(pcall(io.open, "io_test.txt", "bad mode"))
io.output():setvbuf("line")
io.write("numbers: ", 1, " ", 2.5, "\n")
local lines = {}
for a, b in io.lines("io_test.txt", 5, "l") do lines[#lines + 1] = a .. "|" .. tostring(b); if #lines == 3 then break end end
print(table.concat(lines, " / "))
print(os.remove("io_test.txt"), os.remove("io_test.bin"))
io.stderr:write("")
