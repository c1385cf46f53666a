-- The string library: formatting, patterns, packing, utf8; printed so that a host run of the
-- same interpreter gives the same bytes.
print(string.format("%d %5.2f %-6s| %x %X %o %e %g %q", 42, math.pi, "ab", 255, 255, 8, 12345.678, 1e20, "a\n\"b\0"))
print(("hello world"):upper(), ("MiXeD"):lower(), ("abc"):rep(3, "-"), ("abcdef"):reverse())
print(("hello world from lua"):find("wor"), ("x=1, y=22"):match("y=(%d+)"))
for k, v in string.gmatch("a=1, b=2, c=3", "(%w+)=(%w+)") do io.write(k, "->", v, " ") end
print()
print((string.gsub("hello world", "o", "0")), (string.gsub("abc", "%w", "%0%0")))
print(string.gsub("$name is $age", "%$(%w+)", { name = "lua", age = "30" }))
print(string.byte("ABC", 1, -1), string.char(72, 105), #"\u{48}\u{20AC}")
print(string.pack(">I4", 0x01020304):byte(1, -1))
print(string.unpack("<i2 z", string.pack("<i2 z", -2, "zero")))
print(utf8.char(72, 8364, 128512), utf8.len("h\u{20AC}\u{1F600}"))
for p, c in utf8.codes("a\u{E9}\u{4E2D}") do io.write(p, ":", c, " ") end
print()
print(tostring(1/0), tostring(-1/0), tostring(0/0) == tostring(0/0), math.maxinteger, math.mininteger)
print(3 // 2, 3.0 // 2, 7 % -3, -7 % 3, 2^10, 10 / 4, 1e15, 2^63, math.tointeger(3.0))
print(string.format("%.14g", 0.1 + 0.2), tonumber("0x1p4"), tonumber("  12  "), tonumber("z", 36))
local parts = {}
for w in ("the quick brown fox jumps"):gmatch("%a+") do parts[#parts + 1] = w:sub(1, 1):upper() .. w:sub(2) end
print(table.concat(parts, " "))
print(("%s|%s"):format(("  trim me  "):match("^%s*(.-)%s*$"), ("a,b,,c"):gsub(",", ";")))
